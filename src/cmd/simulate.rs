use crate::cli::{GlobalArgs, SimulateArgs};

pub fn run(_global: &GlobalArgs, _args: SimulateArgs) -> anyhow::Result<i32> {
    super::not_yet("simulate", "the foundation issue")
}
