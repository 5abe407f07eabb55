use crate::cli::{GlobalArgs, ResumeArgs, RetryArgs, RunArgs};

pub fn run(_global: &GlobalArgs, _args: RunArgs) -> anyhow::Result<i32> {
    super::not_yet("run", "the engine issue")
}

pub fn resume(_global: &GlobalArgs, _args: ResumeArgs) -> anyhow::Result<i32> {
    super::not_yet("resume", "the engine issue")
}

pub fn retry(_global: &GlobalArgs, _args: RetryArgs) -> anyhow::Result<i32> {
    super::not_yet("retry", "the engine issue")
}
