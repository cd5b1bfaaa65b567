package ui_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRunArtifacts drives a lab run's artifact browser in Chromium
// with JavaScript off, as it must work without it: the tree's directories
// (model/ and its metadata/) fold and open as <details>; each image format
// shows inline; text, YAML, JSON (indented) and MLmodel show as text; a big
// file shows its beginning with its size and a download link; binary files
// (model.bin, model.onnx) offer a download and are never shown as text; an SVG
// with a script, opened on its own, runs none.
func TestBrowserRunArtifacts(t *testing.T) {
	l := newLab(t)
	b := newTab(t, l.handler, false)
	run := l.runs["rf-tuned"]
	page := "/runs/" + run.Info.RunID
	choose := func(t *testing.T, file, ready string) {
		t.Helper()
		b.open(t, page, "#artifacts .tree")
		b.do(t, "choose "+file, click(chromedp.CSS(`.tree a[href*="artifact=`+url.QueryEscape(file)+`#"]`)))
		b.wait(t, fmt.Sprintf(`document.readyState === "complete" && document.querySelector(".preview h3 code")?.textContent === %q`, file))
		b.do(t, "wait for "+ready, visible(chromedp.CSS(ready)))
	}

	t.Run("DeepTree", func(t *testing.T) {
		b.open(t, page, "#artifacts .tree")
		meta := `Array.from(document.querySelectorAll(".tree summary")).find(s => s.textContent === "metadata/")`
		// Top-level directories start open, deeper ones folded.
		if !eval[bool](t, b, meta+`.parentElement.parentElement.closest("details").open && !`+meta+`.parentElement.open`) {
			t.Error("model/ is not open or model/metadata/ is not folded")
		}
		file := `Array.from(document.querySelectorAll(".tree a")).find(a => a.textContent === "feature_order.json")`
		if eval[bool](t, b, file+`.checkVisibility()`) {
			t.Error("a file of a folded directory is visible")
		}
		b.do(t, "open metadata/", click(chromedp.CSS(`.tree details details summary`)))
		b.wait(t, file+`.checkVisibility()`)
		names := eval[[]string](t, b, `Array.from(document.querySelectorAll(".tree details")).find(d => d.querySelector("summary").textContent === "model/").querySelectorAll(":scope > ul > li > a:first-child").values().map(a => a.textContent).toArray()`)
		for _, want := range []string{"MLmodel", "model.bin", "model.onnx", "requirements.txt", "conda.yaml", "python_env.yaml", "input_example.json"} {
			if !strings.Contains(strings.Join(names, " "), want) {
				t.Errorf("model/ lists %q, not %s", names, want)
			}
		}
		b.shoot(t, "run-artifacts-tree")
	})
	images := []struct{ name, file string }{
		{"PNG", "plots/predicted_vs_actual.png"},
		{"JPEG", "plots/residuals.jpg"},
		{"GIF", "plots/r2_vs_trees.gif"},
		{"SVG", "plots/feature_importances.svg"},
	}
	for _, im := range images {
		t.Run("Image"+im.name, func(t *testing.T) {
			choose(t, im.file, ".preview img")
			// Loaded through the UI's artifact route under the page's CSP.
			b.wait(t, `document.querySelector(".preview img").complete && document.querySelector(".preview img").naturalWidth > 0`)
			if im.name == "SVG" {
				// Drawn with its own style sheet: the first bar is matplotlib's blue.
				px := eval[[]int](t, b, `(() => { const img = document.querySelector(".preview img"), c = document.createElement("canvas");
					c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext("2d"); g.drawImage(img, 0, 0);
					return Array.from(g.getImageData(50, 17, 1, 1).data) })()`)
				if len(px) != 4 || px[0] != 0x1f || px[1] != 0x77 || px[2] != 0xb4 {
					t.Errorf("the SVG's bar is drawn in %v, want rgb(31, 119, 180)", px)
				}
			}
			b.shoot(t, "run-artifact-"+strings.ToLower(im.name))
		})
	}
	texts := []struct{ name, file, want string }{
		{"MLmodel", "model/MLmodel", "flavors:"},
		{"YAML", "model/python_env.yaml", "build_dependencies:"},
		{"Requirements", "model/requirements.txt", "onnx"},
		{"JSON", "model/input_example.json", "{\n  \"columns\": [\n    \"MedInc\","},
	}
	for _, tx := range texts {
		t.Run("Text"+tx.name, func(t *testing.T) {
			choose(t, tx.file, "pre.file")
			if got := b.text(t, "pre.file"); !strings.Contains(got, tx.want) {
				t.Errorf("%s shows %q, want %q in it", tx.file, got[:min(len(got), 200)], tx.want)
			}
			b.shoot(t, "run-artifact-"+strings.ToLower(tx.name))
		})
	}
	t.Run("BigText", func(t *testing.T) {
		choose(t, "predictions/test.csv", "#truncated")
		if got := b.text(t, "#truncated"); got != "Showing the first 256.0 KiB of 400.0 KiB: download the file for all of it." {
			t.Errorf("note %q", got)
		}
		if n := eval[int](t, b, `document.querySelector("pre.file").textContent.length`); n > 256<<10 || n < 250<<10 {
			t.Errorf("%d characters shown", n)
		}
		b.shoot(t, "run-artifact-big")
	})
	for _, file := range []string{"model/model.bin", "model/model.onnx"} {
		t.Run("Binary-"+file[strings.LastIndex(file, "/")+1:], func(t *testing.T) {
			choose(t, file, "#no-preview")
			if eval[bool](t, b, `document.querySelector("pre.file") !== null`) {
				t.Errorf("%s shown as text", file)
			}
			if got := eval[string](t, b, `document.querySelector("#no-preview a[download]").getAttribute("href")`); !strings.Contains(got, "download=1") {
				t.Errorf("download link %q", got)
			}
		})
	}
	t.Run("SVGScriptDoesNotRun", func(t *testing.T) {
		// Scripts on, so that only the artifact's sandbox can stop it.
		b.scripts(t, true)
		defer b.scripts(t, false)
		b.open(t, "/ui/artifact?"+url.Values{"run": {run.Info.RunID}, "path": {"plots/evil.svg"}}.Encode(), "svg")
		if got := eval[string](t, b, `document.title`); got == "script ran" {
			t.Error("the SVG's script ran")
		}
		if !b.takeProblem("Blocked script execution") {
			t.Error("Chromium did not report the SVG's script as blocked by the sandbox")
		}
	})
}
