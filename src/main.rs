use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = supsync::cli::Cli::parse();
    let code = supsync::cmd::dispatch(cli);
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
