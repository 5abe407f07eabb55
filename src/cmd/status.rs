use crate::cli::{GlobalArgs, StatusArgs};

pub fn run(_global: &GlobalArgs, _args: StatusArgs) -> anyhow::Result<i32> {
    super::not_yet("status", "the engine issue")
}
