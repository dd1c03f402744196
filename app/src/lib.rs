#![doc = include_str!("../README.md")]

mod app;
mod backend;
mod blog;
mod camera;
mod conv;
pub mod demo;
mod dialogs;
mod feeds;
mod files;
mod groups;
mod inbox;
mod intro;
mod main_view;
mod meet;
mod notify;
mod peer_text;
pub mod qr;
mod screens;
mod strength;
pub mod timefmt;

pub use app::{AppConfig, KithApp};

/// Window options for the real app.
pub fn native_options(persistence_path: Option<std::path::PathBuf>) -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Kith")
            .with_app_id("kith")
            .with_inner_size([1100.0, 720.0])
            .with_min_inner_size([640.0, 420.0]),
        persistence_path,
        ..Default::default()
    }
}
