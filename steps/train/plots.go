package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/plots"
)

// writePlots draws the run's plots as PNG files into dir and returns their names.
func writePlots(dir string, c Config, f *fitted, test *dataset.Dataset) ([]string, error) {
	type chart struct {
		name string
		draw func(*bytes.Buffer) error
	}
	charts := []chart{
		{"predicted_vs_actual.png", func(b *bytes.Buffer) error {
			return plots.PredictedVsActual(b, test.Y, f.testPred, fmt.Sprintf("%s: predicted vs actual (test R² %.3f)", c.Name, f.test.R2))
		}},
		{"residuals.png", func(b *bytes.Buffer) error {
			return plots.Residuals(b, test.Y, f.testPred, c.Name+": residuals on the test part")
		}},
	}
	if f.importances != nil {
		kind := "impurity-based"
		if c.Kind == KindGradientBoosting {
			kind = "split-gain"
		}
		charts = append(charts, chart{"feature_importances.png", func(b *bytes.Buffer) error {
			return plots.FeatureImportances(b, dataset.FeatureNames[:], f.importances, c.Name+": "+kind+" feature importances")
		}})
	}
	if len(f.trainLoss) > 1 {
		var curves []plots.Series
		for _, h := range []struct {
			name string
			v    []float64
		}{{"train", f.trainLoss}, {"validation", f.validLoss}, {"test", f.testLoss}} {
			if len(h.v) == 0 {
				continue
			}
			s := plots.Series{Name: h.name}
			for i, v := range h.v {
				s.X = append(s.X, float64(i+1))
				s.Y = append(s.Y, v)
			}
			curves = append(curves, s)
		}
		charts = append(charts, chart{"loss_curves.png", func(b *bytes.Buffer) error {
			return plots.MetricCurve(b, c.Name+": loss (MSE) after each iteration", "iterations", "MSE", curves...)
		}})
	}
	if len(f.stagedR2) > 1 {
		s := plots.Series{Name: "test R²"}
		for _, p := range f.stagedR2 {
			s.X = append(s.X, float64(p.trees))
			s.Y = append(s.Y, p.r2)
		}
		charts = append(charts, chart{"r2_vs_trees.png", func(b *bytes.Buffer) error {
			return plots.MetricCurve(b, c.Name+": test R² as trees are added", "trees", "R²", s)
		}})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, ch := range charts {
		var b bytes.Buffer
		if err := ch.draw(&b); err != nil {
			return nil, fmt.Errorf("draw %s: %w", ch.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, ch.name), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		names = append(names, ch.name)
	}
	return names, nil
}
