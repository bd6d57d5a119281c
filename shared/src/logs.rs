pub mod alert;
pub mod decode;
pub mod group;
pub mod render;
