// Package models predicts what a JupyterHub restart costs — peak resident
// memory and seconds until healthy — from the shape of its database, and
// answers capacity questions with those predictions.
//
// # Model
//
// A restart's cost y is modelled as a non-negative combination of the terms
// of a Shape,
//
//	y ≈ β₁·1 + β_U·U + β_S·S + β_R·R + β_J·J,   β ≥ 0,
//
// where J = Σ_u R_u·S_u counts the rows the 5.0–5.3 init_spawners query
// materialises (quadratic in one user's servers) and the other releases are
// linear in R and S. Which terms belong is decided from measurements alone
// (FitTarget): every subset containing the constant is fitted by
// non-negative least squares (NNLS, Lawson–Hanson) and scored by
// leave-one-out cross-validation, and the smallest subset within a margin of
// the best wins. The fitter is never told the release, so a calibration of
// 5.3.0 selects J and one of 5.5.1 does not.
//
// Weights default to relative (w_i = 1/y_i²): peaks span 60 MiB to several
// GiB and a 10% error should count the same at both ends. Prediction
// intervals follow the weighted least squares formula on the active terms,
//
//	ŷ₀ ± t_{n−p, 0.975} · s · sqrt(v₀ + x₀ᵀ(XᵀWX)⁻¹x₀),
//
// v₀ = ŷ₀² under relative weighting (1 without), and the upper bound is
// what "safe" answers use (Threshold with useUpper, RequiredLimit).
//
// # Use
//
// Calibrate: seed the shapes of SweepPlan, restart the hub on each, record
// Samples, then FitCalibration and Calibration.SaveFile
// (models/calibrations/jupyterhub-<release>.json). Predict: LoadFile, PeakModel,
// Model.Predict on a Shape built with ShapeOf, OneUser, Even or Plus;
// Threshold finds the largest family size under a memory limit and
// RequiredLimit the limit a shape needs.
//
// The package is pure Go on gonum; it reads no clock and no global random
// source.
package models
