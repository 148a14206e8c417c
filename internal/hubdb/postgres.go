package hubdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectTimeout bounds a PostgreSQL connection attempt unless the URL sets
// connect_timeout.
const connectTimeout = 10 * time.Second

// openPostgres connects with pgx. The session is read-only from its first
// statement (startup parameter default_transaction_read_only=on, checked
// after connecting), and Shape reads in a REPEATABLE READ, READ ONLY
// transaction.
func openPostgres(ctx context.Context, d DSN) (*DB, error) {
	cfg, err := pgx.ParseConfig(d.url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s; write postgresql://user:password@host:5432/database",
			ErrBadDSN, d, d.scrub(err.Error()))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "hubcap"
	}
	where := d.hostPort()
	if cfg.Host != "" {
		where = DSN{Host: cfg.Host, Port: fmt.Sprint(cfg.Port)}.hostPort()
		if strings.HasPrefix(cfg.Host, "/") {
			where = fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (user %q, database %q): %s; check that the server runs and listens there (for a hub in Kubernetes, kubectl port-forward to the database service first), that it accepts this host (pg_hba.conf), and the user, password and sslmode in the URL",
			ErrConnect, where, cfg.User, cfg.Database, d.scrub(connectCause(err)))
	}
	db := &DB{dsn: d, dia: postgresDialect, be: pgBackend{conn}}
	var ro string
	if err := conn.QueryRow(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil {
		db.Close()
		return nil, db.readErr("transaction_read_only", err)
	}
	if ro != "on" {
		db.Close()
		return nil, fmt.Errorf("%w: %s did not make the session read-only (transaction_read_only = %q); hubcap refuses to read it (a connection pooler in front of PostgreSQL may drop startup parameters: connect to the server directly)",
			ErrConnect, where, ro)
	}
	return db, nil
}

// pgBackend is a backend over one pgx connection.
type pgBackend struct{ c *pgx.Conn }

type pgQuerier interface {
	Query(ctx context.Context, s string, args ...any) (pgx.Rows, error)
}

func pgQuery(ctx context.Context, q pgQuerier, s string, args ...any) (rows, error) {
	r, err := q.Query(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (b pgBackend) Query(ctx context.Context, s string, args ...any) (rows, error) {
	return pgQuery(ctx, b.c, s, args...)
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Query(ctx context.Context, s string, args ...any) (rows, error) {
	return pgQuery(ctx, t.tx, s, args...)
}

// ReadTx runs fn in a REPEATABLE READ, READ ONLY transaction and rolls it back.
func (b pgBackend) ReadTx(ctx context.Context, fn func(querier) error) error {
	tx, err := b.c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(pgTx{tx})
}

func (b pgBackend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.c.Close(ctx)
}

// connectCause condenses pgx's connect error: without the "failed to
// connect to `user=… database=…`" prefix (the message says those), one
// line per distinct attempt (sslmode=prefer tries TLS, then plain).
func connectCause(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "`:"); strings.HasPrefix(msg, "failed to connect to `") && i > 0 {
		msg = msg[i+2:]
	}
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
