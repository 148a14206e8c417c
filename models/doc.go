// Package models predicts what a JupyterHub restart costs — peak resident
// memory and seconds until healthy — from the shape of its database, and
// answers capacity questions with those predictions.
//
// # Model
//
// A restart's cost y is modelled as a non-negative combination of the terms
// of a Shape,
//
//	y ≈ β₁·1 + β_U·U + β_S·S + β_R·R + β_J·J + β_JB·JB + β_JP·JP + β_LP·LP,   β ≥ 0,
//
// where J = Σ_u R_u·S_u counts the rows the 5.0–5.3 init_spawners query
// materialises (quadratic in one user's servers), JB, JP and LP the row
// content those rows carry (see "Row content"), and the other releases are
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
// # Row content
//
// What a joined row costs depends on what it carries. JupyterHub
// 5.0.0b1–5.3.0 load the spawners at start-up with (jupyterhub/app.py,
// JupyterHub.init_spawners)
//
//	db.query(orm.User, orm.Spawner).join(orm.User._orm_spawners)
//	    .filter(orm.Spawner.server != None)
//	    .options(joinedload(orm.User._orm_spawners), joinedload(orm.Spawner.server))
//
// which returns, for every user u and every running spawner r of u, one row
// per spawner s of u (the joinedload of the collection): R_u·S_u rows per
// user, J = Σ_u R_u·S_u in all. Each row holds the user's columns, r's
// columns, r's server and s's columns, and SQLAlchemy processes every
// column of every row as it is fetched: the state and user_options columns
// are JupyterHub's JSONDict type (orm.py), TEXT in the database that
// process_result_value turns into dicts with json.loads — once per row, for
// r and for s, though the identity map keeps one object of each. With B(x)
// the JSON text bytes of spawner x's two columns and P(x) the bytes of the
// Python objects they parse into (PyJSONSize), the rows carry
//
//	Σ_u Σ_{r∈R_u} Σ_{s∈S_u} (B(r) + B(s)) = Σ_u (S_u·B^R_u + R_u·B_u) = JB
//	Σ_u Σ_{r∈R_u} Σ_{s∈S_u} (P(r) + P(s)) = Σ_u (S_u·P^R_u + R_u·P_u) = JP
//
// (B_u, P_u over all of u's rows, B^R_u, P^R_u over the running ones), held
// together until the query returns, beside a fixed cost per row (the other
// columns, the row tuples, datetimes). So memory is modelled on J, JB and JP
// together, and the fit decides which it needs: rows of many small fields
// parse into far more bytes than their text (a dict and two str objects per
// field), one long string into about its text twice over (the fetched text
// and the parsed copy).
//
// JupyterHub ≥ 5.4.3, 5.5.x and 6.x load query(Spawner).filter(server !=
// None) with selectinload of each spawner's user and that user's spawners
// (upstream PR #5109 and its fix): each running spawner once, then every
// spawner of a user with a running one, so
//
//	LP = Σ_u P^R_u + Σ_{u: R_u>0} P_u
//
// parsed bytes, linear. 3.x–4.1 load spawners one by one (N+1 queries) and
// parse about the same. A calibration seeds several row contents (package
// internal/calibrate: lean, KubeSpawner-like, many small fields, long
// strings) so that these terms can be told apart; a calibration of one
// content selects among the counts alone.
//
// # Honest intervals
//
// The interval adds a model-form error f estimated by holding out whole
// groups of samples — each row-content class but the main one, and the
// largest shapes — refitting without them and predicting them
// (Fit.FormError), and multiplies f by how far a shape lies beyond the
// calibrated range (Model.Extrapolation) when it does. hubcap check gives no
// PASS more than 1.5× beyond the range: it asks for hubcap replay, a
// measurement of the database itself.
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
