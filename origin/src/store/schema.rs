//! Schema migrations, embedded in the binary and applied when the store opens.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::SqlitePool;

use super::StoreError;

/// Migrations in order: (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "job store", include_str!("../../migrations/0001_job_store.sql"))];

/// Migration source backed by the SQL files compiled into the binary, so a deployed binary needs
/// no migrations folder next to it.
#[derive(Debug)]
struct EmbeddedMigrations;

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Applies every migration that the database has not recorded yet.
pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let migrator = Migrator::new(EmbeddedMigrations).await?;
    migrator.run(pool).await?;
    Ok(())
}
