package jsjupyterhub

import (
	"context"

	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// adminExports is jupyterhub.admin: the run's shared admin client.
func (m *ModuleInstance) adminExports() map[string]any {
	return map[string]any{
		"createUsers": m.createUsers,
		"deleteUser":  m.deleteUser,
		"startServer": m.startServer,
		"waitReady":   m.waitReady,
		"stopServer":  m.stopServer,
		"createToken": m.createToken,
		"users":       m.users,
		"user":        m.user,
		"shape":       m.shape,
		"info":        m.info,
		"metrics":     m.metrics,
		"cleanup":     m.cleanup,
	}
}

// admin checks the VU context and returns the client and the context.
func (m *ModuleInstance) admin(what string) (*hubapi.Client, context.Context, error) {
	if err := script.RequireVUContext(m.vu, "jupyterhub.admin."+what+"()"); err != nil {
		return nil, nil, err
	}
	c, err := m.b.adminClient()
	if err != nil {
		return nil, nil, err
	}
	return c, m.vu.Context(), nil
}

func (m *ModuleInstance) createUsers(names []string) ([]any, error) {
	c, ctx, err := m.admin("createUsers")
	if err != nil {
		return nil, err
	}
	users, err := c.CreateUsers(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = u.Name
	}
	return out, nil
}

func (m *ModuleInstance) deleteUser(name string) error {
	c, ctx, err := m.admin("deleteUser")
	if err != nil {
		return err
	}
	return c.DeleteUser(ctx, name)
}

func (m *ModuleInstance) startServer(user, server string, userOptions map[string]any) (map[string]any, error) {
	c, ctx, err := m.admin("startServer")
	if err != nil {
		return nil, err
	}
	r, err := c.StartServer(ctx, user, server, userOptions)
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": r.Status, "ready": r.Ready, "pending": r.Pending, "alreadyRunning": r.AlreadyRunning}, nil
}

func (m *ModuleInstance) waitReady(user, server string) (map[string]any, error) {
	c, ctx, err := m.admin("waitReady")
	if err != nil {
		return nil, err
	}
	e, err := c.WaitReady(ctx, user, server)
	if err != nil {
		return nil, err
	}
	return progressValue(e), nil
}

func (m *ModuleInstance) stopServer(user, server string, opts map[string]any) error {
	o := newOptions("jupyterhub.admin.stopServer()", opts, "remove")
	remove := o.boolean("remove", false)
	if err := o.err(); err != nil {
		return err
	}
	c, ctx, err := m.admin("stopServer")
	if err != nil {
		return err
	}
	return c.StopServer(ctx, user, server, remove)
}

func (m *ModuleInstance) createToken(user string, opts map[string]any) (string, error) {
	o := newOptions("jupyterhub.admin.createToken()", opts, "note", "expiresIn", "scopes")
	note, expires, scopes := o.str("note", "hubcap"), o.duration("expiresIn"), o.strings("scopes")
	if err := o.err(); err != nil {
		return "", err
	}
	c, ctx, err := m.admin("createToken")
	if err != nil {
		return "", err
	}
	t, err := c.CreateToken(ctx, user, note, expires, scopes)
	if err != nil {
		return "", err
	}
	return t.Token, nil
}

func (m *ModuleInstance) users(opts map[string]any) ([]any, error) {
	o := newOptions("jupyterhub.admin.users()", opts, "state", "includeStopped", "nameFilter")
	lo := hubapi.ListOptions{State: o.str("state", ""), IncludeStoppedServers: o.boolean("includeStopped", false),
		NameFilter: o.str("nameFilter", "")}
	if err := o.err(); err != nil {
		return nil, err
	}
	c, ctx, err := m.admin("users")
	if err != nil {
		return nil, err
	}
	users, err := c.ListUsers(ctx, lo)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = userValue(u)
	}
	return out, nil
}

func (m *ModuleInstance) user(name string) (map[string]any, error) {
	c, ctx, err := m.admin("user")
	if err != nil {
		return nil, err
	}
	u, err := c.User(ctx, name)
	if err != nil {
		return nil, err
	}
	return userValue(u), nil
}

func (m *ModuleInstance) shape() (map[string]any, error) {
	c, ctx, err := m.admin("shape")
	if err != nil {
		return nil, err
	}
	s, err := c.Shape(ctx)
	if err != nil {
		return nil, err
	}
	return shapeValue(s), nil
}

func (m *ModuleInstance) info() (map[string]any, error) {
	c, ctx, err := m.admin("info")
	if err != nil {
		return nil, err
	}
	i, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	return infoValue(i), nil
}

func (m *ModuleInstance) metrics() (map[string]any, error) {
	c, ctx, err := m.admin("metrics")
	if err != nil {
		return nil, err
	}
	hm, err := c.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	return metricsValue(hm), nil
}

func (m *ModuleInstance) cleanup() (map[string]any, error) {
	if _, _, err := m.admin("cleanup"); err != nil {
		return nil, err
	}
	r, err := m.b.Cleanup(m.vu.Context())
	if err != nil {
		return nil, err
	}
	servers := make([]any, len(r.Servers))
	for i, s := range r.Servers {
		servers[i] = map[string]any{"user": s.User, "server": s.Server}
	}
	return map[string]any{"users": anyStrings(r.Users), "servers": servers}, nil
}
