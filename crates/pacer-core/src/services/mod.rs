//! The services: plain async functions over the ports, called alike by the Lambda
//! entry points and the local runtime.

pub mod apply;
pub mod callbacks;
pub mod clients;
pub mod feed;
pub mod plan;
pub mod release;
pub mod replay;
pub mod submit;
pub mod work;

pub use apply::{apply_outcomes, ApplyBatchReport};
pub use callbacks::{deliver, deliver_due, CallbackSettings, DeliveryReport};
pub use clients::{authenticate, register, AuthError, RegisterError};
pub use feed::read_feed;
pub use plan::{
    continue_plan, forecast, plan_window, plan_window_until, PlanReport, PlanRequest,
    UNFINISHED_PLAN_KEY,
};
pub use release::{release_due, ReleaseReport, ReleaseSettings};
pub use replay::{purge_dead_letters, replay_dead_letters, ReplayReport, Selection, Skipped};
pub use submit::{submit, FieldError, SubmitError};
pub use work::{process_batch, BatchReport, Deadline, Disposition, WorkerSettings};
