//! All routes.
mod admin;
mod health;
mod transparency;

use crate::AppState;
use axum::Router;

/// Every route of the platform.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(transparency::routes())
        .merge(admin::routes())
        .with_state(state)
}
