// Package plots draws the PNG charts a training run logs beside its metrics:
// predicted against actual values, residuals, feature importances, a metric
// over training steps, and one metric compared across runs.
//
// Every function writes one PNG of Width x Height at DPI to w and returns an
// error for bad data (mismatched lengths, no points, non-finite values) rather
// than drawing a misleading chart. Text uses gonum/plot's embedded Liberation
// fonts, so nothing is fetched and output does not depend on installed fonts.
package plots
