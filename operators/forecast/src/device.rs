//! The compute device, chosen at run time: `cpu` (burn's `flex` backend, always built),
//! `cuda` or `wgpu` (only with the Cargo features of the same names). A GPU choice that was
//! not compiled in, or finds no GPU, falls back to the CPU with a warning.

use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::ForecastError;

/// Where training and inference run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend (`Device::flex()`), multi-threaded.
    #[default]
    Cpu,
    /// NVIDIA GPU 0 through burn's CUDA backend (Cargo feature `cuda`).
    Cuda,
    /// The best GPU wgpu finds (Vulkan, Metal, DX12; Cargo feature `wgpu`).
    Wgpu,
}

impl FromStr for DeviceChoice {
    type Err = ForecastError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "wgpu" => Ok(Self::Wgpu),
            other => Err(ForecastError::Config {
                field: "device",
                message: format!("unknown device {other:?}; known: cpu, cuda, wgpu"),
            }),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
        })
    }
}

impl DeviceChoice {
    /// The device to use and the choice it really is (the CPU after a fallback).
    pub fn resolve(self) -> (Device, DeviceChoice) {
        match self {
            Self::Cpu => (Device::flex(), Self::Cpu),
            Self::Cuda => gpu(self, cuda()),
            Self::Wgpu => gpu(self, wgpu()),
        }
    }
}

fn gpu(choice: DeviceChoice, found: Result<Device, String>) -> (Device, DeviceChoice) {
    match found {
        Ok(device) => (device, choice),
        Err(why) => {
            tracing::warn!("device {choice}: {why}; using the CPU");
            (Device::flex(), DeviceChoice::Cpu)
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device, String> {
    use burn::tensor::DeviceType;
    // Enumerating loads libcuda; a machine without a driver may panic in there.
    match std::panic::catch_unwind(|| Device::enumerate(DeviceType::Cuda).into_vec()) {
        Ok(devices) => devices
            .into_iter()
            .next()
            .ok_or_else(|| "no CUDA device found".to_owned()),
        Err(_) => Err("the CUDA driver could not be loaded".to_owned()),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device, String> {
    Err("this build has no CUDA backend (Cargo feature `cuda`)".to_owned())
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, String> {
    use burn::tensor::DeviceType;
    match std::panic::catch_unwind(|| Device::enumerate(DeviceType::Wgpu).into_vec()) {
        Ok(devices) => devices
            .into_iter()
            .next()
            .ok_or_else(|| "no wgpu adapter found".to_owned()),
        Err(_) => Err("wgpu could not enumerate adapters".to_owned()),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, String> {
    Err("this build has no wgpu backend (Cargo feature `wgpu`)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_falls_back() {
        assert_eq!("CUDA".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda);
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert_eq!(DeviceChoice::Cpu.resolve().1, DeviceChoice::Cpu);
        #[cfg(not(feature = "cuda"))]
        assert_eq!(DeviceChoice::Cuda.resolve().1, DeviceChoice::Cpu);
    }
}
