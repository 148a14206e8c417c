package attendee

import (
	"context"
	"errors"
	"time"
)

// Journey is a workshop attendee's whole session.
type Journey struct {
	// Code is executed in the kernel (default "print(6*7)").
	Code string
	// Expect is the trimmed stdout the code must print (default "42" with the
	// default Code; "" with a custom Code checks nothing).
	Expect string
	// KeepServer leaves the server running at the end (no StopServer).
	KeepServer bool
	// SkipLogout leaves the hub session logged in.
	SkipLogout bool
}

// Run performs Login, Spawn, OAuth, LabLoad, ListContents, SaveNotebook,
// OpenNotebook, StartKernel, ConnectKernel, Execute, ShutdownKernel,
// StopServer and Logout, stopping at the first failed phase. After a failure
// it still shuts the kernel down and stops the server (unless KeepServer),
// best effort, within 60 s, and returns the first error.
func (s *Session) Run(ctx context.Context, j Journey) (err error) {
	if j.Code == "" {
		j.Code, j.Expect = "print(6*7)", "42"
	}
	spawned := false
	defer func() {
		if err == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		if s.kernelID != "" {
			_ = s.ShutdownKernel(cctx)
		}
		if spawned && !j.KeepServer {
			_ = s.StopServer(cctx)
		}
	}()
	if err = s.Login(ctx); err != nil {
		return err
	}
	spawned = true // a failed spawn may still leave a pending server
	if err = s.Spawn(ctx); err != nil {
		return err
	}
	if err = s.OAuth(ctx); err != nil {
		return err
	}
	if _, err = s.LabLoad(ctx); err != nil {
		return err
	}
	if _, err = s.ListContents(ctx, ""); err != nil {
		return err
	}
	if err = s.SaveNotebook(ctx, s.nbPath, Notebook(s.cfg.KernelName, j.Code)); err != nil {
		return err
	}
	if _, err = s.OpenNotebook(ctx, s.nbPath); err != nil {
		return err
	}
	if _, err = s.StartKernel(ctx); err != nil {
		return err
	}
	if err = s.ConnectKernel(ctx); err != nil {
		return err
	}
	if j.Expect != "" {
		_, err = s.ExecuteExpect(ctx, j.Code, j.Expect)
	} else {
		_, err = s.Execute(ctx, j.Code)
	}
	if err != nil {
		return err
	}
	if err = s.ShutdownKernel(ctx); err != nil {
		return err
	}
	if !j.KeepServer {
		if err = s.StopServer(ctx); err != nil {
			return err
		}
		spawned = false
	}
	if !j.SkipLogout {
		if err = s.Logout(ctx); err != nil {
			return err
		}
	}
	return nil
}

// PhaseOf returns the phase of a session error ("" if none).
func PhaseOf(err error) Phase {
	var pe *PhaseError
	if errors.As(err, &pe) {
		return pe.Phase
	}
	return ""
}
