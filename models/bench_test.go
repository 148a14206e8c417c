package models

import (
	"fmt"
	"testing"
)

func benchModel(b *testing.B) *Model {
	b.Helper()
	m, err := validCalibration(b).PeakModel()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkPredict: one prediction with its interval (target < 10 ms).
func BenchmarkPredict(b *testing.B) {
	m := benchModel(b)
	s := Even(10, 300)
	var sink Prediction
	for b.Loop() {
		sink = m.Predict(s)
	}
	_ = sink
}

// BenchmarkThreshold: the largest one-user size under 3 GiB, safe bound.
func BenchmarkThreshold(b *testing.B) {
	m := benchModel(b)
	for b.Loop() {
		if _, err := Threshold(m, 3<<30, OneUser, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThresholdPlus: "today's database plus k servers for one user"
// on a 10,000-user database (the base is summed once by PlusFamily).
func BenchmarkThresholdPlus(b *testing.B) {
	m := benchModel(b)
	base := make([]UserShape, 10_000)
	for i := range base {
		base[i] = UserShape{Name: fmt.Sprintf("user%d", i), S: 3, R: 1}
	}
	for b.Loop() {
		f, err := PlusFamily(base, "user7")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Threshold(m, 3<<30, f, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitCalibration: selection over 16 subsets with leave-one-out on
// 12 samples, both targets.
func BenchmarkFitCalibration(b *testing.B) {
	samples := syntheticSamples(1)
	for b.Loop() {
		if _, err := FitCalibration(samples); err != nil {
			b.Fatal(err)
		}
	}
}
