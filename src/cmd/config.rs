use crate::cli::{ConfigArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: ConfigArgs) -> anyhow::Result<i32> {
    super::not_yet("config", "the foundation issue")
}
