fn main() -> std::process::ExitCode {
    vylux_origin::cli::main()
}
