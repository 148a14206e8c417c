package fleet

// DropWebsockets closes every kernel websocket the fleet holds at once, as
// a network failure or a restarted proxy would: the connections end without
// a close handshake from the client's side, replies of executions under way
// are lost, and the kernels stay (clients may reconnect). It returns how
// many websockets it closed. It exists for fault tests.
func (s *Server) DropWebsockets() int {
	s.lifeMu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for wc := range s.conns {
		conns = append(conns, wc)
	}
	s.lifeMu.Unlock()
	for _, wc := range conns {
		wc.close()
	}
	return len(conns)
}
