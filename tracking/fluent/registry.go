package fluent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// RegisterModel registers the model at modelURI as a new version of the
// registered model name, creating that when missing (a concurrent create by
// someone else is fine), and waits until the version is READY (at most
// Options.RegistryWait). A runs:/ URI becomes a version whose source is the
// run's artifact URI of the path and whose run_id is the run, as MLflow's
// register_model does; a models:/ URI registers the source of the version it
// names; any other artifact URI is registered as it is, without a run. With
// MLflow 3's logged models see RegistrationSource.
func (c *Client) RegisterModel(ctx context.Context, modelURI, name string, tags map[string]string) (*tracking.ModelVersion, error) {
	src, err := c.RegistrationSource(ctx, modelURI)
	if err != nil {
		return nil, err
	}
	if _, err := c.store.CreateRegisteredModel(ctx, name, "", nil); err == nil {
		c.log.Info("created registered model", "name", name)
	} else if !tracking.IsAlreadyExists(err) {
		return nil, fmt.Errorf("fluent: register %s as %q: %w", modelURI, name, err)
	}
	mv, err := c.store.CreateModelVersion(ctx, tracking.CreateModelVersion{
		Name: name, Source: src.Source, RunID: src.RunID, ModelID: src.ModelID, Tags: mergeTags(nil, tags),
	})
	if err != nil {
		return nil, fmt.Errorf("fluent: register %s as %q: %w", modelURI, name, err)
	}
	return c.waitReady(ctx, mv)
}

// waitReady polls a model version until its status is READY.
func (c *Client) waitReady(ctx context.Context, mv *tracking.ModelVersion) (*tracking.ModelVersion, error) {
	deadline := c.opts.Now().Add(c.opts.RegistryWait)
	for {
		switch mv.Status {
		case tracking.VersionReady, "": // a store without statuses is always ready
			return mv, nil
		case tracking.VersionFailedRegistration:
			return nil, tracking.Errorf(tracking.ErrInvalidState, "Model version %s of %q failed registration: %s",
				mv.Version, mv.Name, mv.StatusMessage)
		}
		if !c.opts.Now().Before(deadline) {
			return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable,
				"Model version %s of %q is still %s after %s", mv.Version, mv.Name, mv.Status, c.opts.RegistryWait)
		}
		c.log.Info("waiting for model version to be ready", "name", mv.Name, "version", mv.Version, "status", mv.Status)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fluent: wait for version %s of %q: %w", mv.Version, mv.Name, ctx.Err())
		case <-time.After(c.opts.RegistryPoll):
		}
		next, err := c.store.GetModelVersion(ctx, mv.Name, mv.Version)
		if err != nil {
			return nil, fmt.Errorf("fluent: wait for version %s of %q: %w", mv.Version, mv.Name, err)
		}
		mv = next
	}
}

// TransitionStage moves a model version to stage; with archiveExisting the
// versions already in stage (Staging or Production only) become Archived.
func (c *Client) TransitionStage(ctx context.Context, name, version string, stage tracking.Stage, archiveExisting bool) (*tracking.ModelVersion, error) {
	mv, err := c.store.TransitionModelVersionStage(ctx, name, version, stage, archiveExisting)
	if err != nil {
		return nil, fmt.Errorf("fluent: move version %s of %q to %s: %w", version, name, stage, err)
	}
	return mv, nil
}

// SetAlias points alias of the registered model name at version.
func (c *Client) SetAlias(ctx context.Context, name, alias, version string) error {
	if err := c.store.SetRegisteredModelAlias(ctx, name, alias, version); err != nil {
		return fmt.Errorf("fluent: set alias %s of %q to version %s: %w", alias, name, version, err)
	}
	return nil
}

// DeleteAlias removes alias from the registered model name.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := c.store.DeleteRegisteredModelAlias(ctx, name, alias); err != nil {
		return fmt.Errorf("fluent: delete alias %s of %q: %w", alias, name, err)
	}
	return nil
}

// SetRegisteredModelTag sets a tag on the registered model name.
func (c *Client) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	if err := c.store.SetRegisteredModelTag(ctx, name, key, value); err != nil {
		return fmt.Errorf("fluent: tag %q: %w", name, err)
	}
	return nil
}

// SetModelVersionTag sets a tag on a model version.
func (c *Client) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	if err := c.store.SetModelVersionTag(ctx, name, version, key, value); err != nil {
		return fmt.Errorf("fluent: tag version %s of %q: %w", version, name, err)
	}
	return nil
}

// SetRegisteredModelDescription replaces the description of the registered model name.
func (c *Client) SetRegisteredModelDescription(ctx context.Context, name, description string) (*tracking.RegisteredModel, error) {
	rm, err := c.store.UpdateRegisteredModel(ctx, name, description)
	if err != nil {
		return nil, fmt.Errorf("fluent: describe %q: %w", name, err)
	}
	return rm, nil
}

// SetModelVersionDescription replaces the description of a model version.
func (c *Client) SetModelVersionDescription(ctx context.Context, name, version, description string) (*tracking.ModelVersion, error) {
	mv, err := c.store.UpdateModelVersion(ctx, name, version, description)
	if err != nil {
		return nil, fmt.Errorf("fluent: describe version %s of %q: %w", version, name, err)
	}
	return mv, nil
}

// Source is what a new model version is made from.
type Source struct {
	Source, RunID string
	ModelID       string // MLflow 3: the logged model, for a models:/<model_id> source
}

// RegistrationSource returns the source a model URI registers as, the way
// MLflow 3.11.1's register_model picks it: models:/<model_id> stays as it is,
// with the model's id and source run; a runs:/<run_id>/<path> whose run
// produced a logged model named path becomes models:/<model_id> of the newest
// such model; otherwise see RegisterModel.
func (c *Client) RegistrationSource(ctx context.Context, modelURI string) (Source, error) {
	switch scheme, _, _ := strings.Cut(modelURI, ":"); strings.ToLower(scheme) {
	case "runs":
		ru, err := parseRunsURI(modelURI)
		if err != nil {
			return Source{}, err
		}
		if lm, err := c.runLoggedModel(ctx, ru.runID, ru.path); err != nil || lm != nil {
			if err != nil {
				return Source{}, err
			}
			return Source{Source: "models:/" + lm.ModelID, RunID: ru.runID, ModelID: lm.ModelID}, nil
		}
		src, _, err := c.ResolveModelURI(ctx, modelURI)
		if err != nil {
			return Source{}, err
		}
		return Source{Source: src, RunID: ru.runID}, nil
	case "models":
		mu, err := parseModelsURI(modelURI)
		if err != nil {
			return Source{}, err
		}
		if mu.modelID != "" {
			lm, err := c.loggedModel(ctx, modelURI, mu.modelID)
			if err != nil {
				return Source{}, err
			}
			return Source{Source: modelURI, RunID: lm.SourceRunID, ModelID: lm.ModelID}, nil
		}
		src, mv, err := c.ResolveModelURI(ctx, modelURI)
		if err != nil {
			return Source{}, err
		}
		return Source{Source: src, RunID: mv.RunID}, nil
	}
	return Source{Source: modelURI}, nil
}

// runLoggedModel returns the newest logged model called name that the run
// produced, or nil when there is none or the backend keeps no logged models.
func (c *Client) runLoggedModel(ctx context.Context, runID, name string) (*tracking.LoggedModel, error) {
	store, err := tracking.LoggedModels(ctx, c.store)
	if err != nil || store == nil || name == "" {
		return nil, err
	}
	run, err := c.store.GetRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("fluent: run %s: %w", runID, err)
	}
	var best *tracking.LoggedModel
	q := tracking.LoggedModelQuery{ExperimentIDs: []string{run.Info.ExperimentID}, Filter: "name = '" + strings.ReplaceAll(name, "'", "\\'") + "'"}
	for {
		page, err := store.SearchLoggedModels(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("fluent: logged models of run %s: %w", runID, err)
		}
		for i, m := range page.Items {
			if m.SourceRunID == runID && (best == nil || m.CreationTimestamp > best.CreationTimestamp) {
				best = &page.Items[i]
			}
		}
		if page.NextPageToken == "" || len(page.Items) == 0 {
			return best, nil
		}
		q.PageToken = page.NextPageToken
	}
}
