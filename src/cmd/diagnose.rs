use crate::cli::{DiagnoseArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: DiagnoseArgs) -> anyhow::Result<i32> {
    super::not_yet("diagnose", "the token-lifecycle issue")
}
