package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of every chart: 6 x 4 inches at 100 dots per inch, 600 x 400 pixels.
const (
	Width  = 6 * vg.Inch
	Height = 4 * vg.Inch
	DPI    = 100
)

// Colours shared by the charts: a blue for data, a red for references.
var (
	dataColor      = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	pointColor     = color.NRGBA{R: 31, G: 119, B: 180, A: 110} // translucent, so dense areas show
	referenceColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	seriesColors   = []color.Color{
		dataColor,
		color.RGBA{R: 255, G: 127, B: 14, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255},
		referenceColor,
		color.RGBA{R: 148, G: 103, B: 189, A: 255},
		color.RGBA{R: 140, G: 86, B: 75, A: 255},
	}
)

// newPlot returns a plot with a title and axis labels.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	return p
}

// writePNG renders p on a white canvas of the package's size and writes it to w.
func writePNG(w io.Writer, p *plot.Plot) error {
	c := vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("plots: write png: %w", err)
	}
	return nil
}

// checkFinite returns an error naming what and the index of the first NaN or
// infinite value in v.
func checkFinite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("plots: %s[%d] is %v; only finite values can be drawn", what, i, x)
		}
	}
	return nil
}

// checkPairs validates two same-length, non-empty, finite series.
func checkPairs(xName string, x []float64, yName string, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("plots: %s has %d values but %s has %d", xName, len(x), yName, len(y))
	}
	if len(x) == 0 {
		return fmt.Errorf("plots: no values to draw")
	}
	if err := checkFinite(xName, x); err != nil {
		return err
	}
	return checkFinite(yName, y)
}
