package kfpapi

import (
	"context"
	"errors"
	"fmt"
)

// Submission is a pipeline to upload and run.
type Submission struct {
	Name        string // pipeline name (its display name in KFP)
	Description string
	Spec        []byte // the pipeline YAML
	// VersionName names the new version when a pipeline of that name exists
	// already; it must be unique within the pipeline.
	VersionName string
	Namespace   string
	Experiment  string         // experiment name; empty: KFP's default experiment
	RunName     string         // display name of the run or recurring run
	Parameters  map[string]any // runtime parameters, as JSON values
	// Cron, when set, makes a recurring run on this six-field cron schedule
	// instead of a single run.
	Cron           string
	MaxConcurrency int64 // of the recurring run; 1 when 0
	NoCatchup      bool
}

// Submitted is what Submit created.
type Submitted struct {
	Pipeline     Pipeline
	Version      PipelineVersion
	Experiment   Experiment // zero without Submission.Experiment
	Run          *Run
	RecurringRun *RecurringRun
}

// Submit uploads the pipeline (as a new version if one of that name
// exists), finds or creates the experiment, and creates a run, or a
// recurring run when s.Cron is set.
func (c *Client) Submit(ctx context.Context, s Submission) (Submitted, error) {
	if s.Name == "" || len(s.Spec) == 0 || s.RunName == "" {
		return Submitted{}, errors.New("kfpapi: submit needs a pipeline name, a spec and a run name")
	}
	var out Submitted
	p, found, err := c.FindPipeline(ctx, s.Name, s.Namespace)
	if err != nil {
		return out, err
	}
	if found {
		if s.VersionName == "" {
			return out, fmt.Errorf("kfpapi: pipeline %q exists and no version name was given", s.Name)
		}
		out.Pipeline = p
		if out.Version, err = c.UploadPipelineVersion(ctx, p.PipelineID, s.VersionName, s.Spec); err != nil {
			return out, err
		}
	} else {
		if out.Pipeline, err = c.UploadPipeline(ctx, s.Name, s.Description, s.Namespace, s.Spec); err != nil {
			return out, err
		}
		if out.Version, err = c.LatestPipelineVersion(ctx, out.Pipeline.PipelineID); err != nil {
			return out, err
		}
	}
	if out.Pipeline.PipelineID == "" || out.Version.PipelineVersionID == "" {
		return out, fmt.Errorf("kfpapi: upload of %q returned no pipeline or version id", s.Name)
	}
	if s.Experiment != "" {
		if out.Experiment, err = c.EnsureExperiment(ctx, s.Experiment, s.Namespace); err != nil {
			return out, err
		}
	}
	ref := &PipelineVersionReference{PipelineID: out.Pipeline.PipelineID, PipelineVersionID: out.Version.PipelineVersionID}
	cfg := &RuntimeConfig{Parameters: s.Parameters}
	if s.Cron == "" {
		run, err := c.CreateRun(ctx, Run{
			DisplayName: s.RunName, ExperimentID: out.Experiment.ExperimentID,
			PipelineVersionReference: ref, RuntimeConfig: cfg,
		})
		if err != nil {
			return out, err
		}
		out.Run = &run
		return out, nil
	}
	maxConc := s.MaxConcurrency
	if maxConc == 0 {
		maxConc = 1
	}
	rr, err := c.CreateRecurringRun(ctx, RecurringRun{
		DisplayName: s.RunName, ExperimentID: out.Experiment.ExperimentID, Namespace: s.Namespace,
		PipelineVersionReference: ref, RuntimeConfig: cfg,
		MaxConcurrency: maxConc, Trigger: &Trigger{CronSchedule: &CronSchedule{Cron: s.Cron}},
		Mode: "ENABLE", NoCatchup: s.NoCatchup,
	})
	if err != nil {
		return out, err
	}
	out.RecurringRun = &rr
	return out, nil
}
