package tracking

import "context"

// LoggedModelSupport is implemented by stores that can only tell at run time
// whether their backend keeps MLflow 3's logged models: the REST client, which
// may talk to an MLflow 2.x or 3.x server.
type LoggedModelSupport interface {
	SupportsLoggedModels(ctx context.Context) (bool, error)
}

// LoggedModels returns s as a LoggedModelStore when its backend keeps logged
// models, and nil when it does not (an MLflow 2.x server, a store without them).
func LoggedModels(ctx context.Context, s Store) (LoggedModelStore, error) {
	lm, ok := s.(LoggedModelStore)
	if !ok {
		return nil, nil
	}
	if sup, ok := s.(LoggedModelSupport); ok {
		yes, err := sup.SupportsLoggedModels(ctx)
		if err != nil || !yes {
			return nil, err
		}
	}
	return lm, nil
}
