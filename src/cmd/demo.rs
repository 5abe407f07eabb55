use crate::cli::{DemoArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: DemoArgs) -> anyhow::Result<i32> {
    super::not_yet("demo", "the console issue")
}
