use crate::cli::{SimulateArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: SimulateArgs) -> anyhow::Result<i32> {
    super::not_yet("simulate", "the foundation issue")
}
