# ChatWS: a small blocking WebSocket client for t/ (Protocol::WebSocket framing,
# IO::Socket::INET transport), with helpers to read JSON events with a timeout.
package ChatWS;
use strict;
use warnings;
use IO::Socket::INET;
use Socket ();
use IO::Select;
use Protocol::WebSocket::Handshake::Client;
use Protocol::WebSocket::Frame;
use JSON::PP;
use Time::HiRes qw(time);

# connect(port => P, path => '/chat/api/v1/ws?after=0', headers => {...},
#         early => [texts sent in the same write as the handshake], rcvbuf => bytes,
#         no_origin => 1 to send no Origin header)
# -> object, or (undef, status, head, body) when the server refuses the upgrade
sub connect {
    my ($class, %o) = @_;
    my $sock;
    if ($o{rcvbuf}) {
        # a small receive buffer, set before connecting so the window stays small
        $sock = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
        setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), pack('i', $o{rcvbuf})) or die "rcvbuf: $!";
        $sock->connect(Socket::pack_sockaddr_in($o{port}, Socket::inet_aton('127.0.0.1'))) or die "connect: $!";
    } else {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{port},
                                      Proto => 'tcp', Timeout => 5) or die "connect: $!";
    }
    binmode $sock;
    my $hs = Protocol::WebSocket::Handshake::Client->new(url => "ws://127.0.0.1:$o{port}$o{path}");
    my $req = $hs->to_string;
    # the handshake library always sends its own Origin: replace it, or drop it (no_origin => 1)
    $req =~ s/^Origin: [^\r]*\r\n//mi
        if $o{no_origin} || grep { lc eq 'origin' } keys %{ $o{headers} // {} };
    my $extra = join '', map { "$_: $o{headers}{$_}\r\n" } keys %{ $o{headers} // {} };
    $req =~ s/\r\n\r\n$/\r\n$extra\r\n/;
    $req .= join '', map { frame_bytes($_) } @{ $o{early} // [] };
    syswrite($sock, $req);
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + 5;
    while ($buf !~ /\r\n\r\n/ && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($sock, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    if (($status // 0) != 101) {
        # a refusal: its body too, as far as Content-Length says
        my ($len) = ($head // '') =~ /^Content-Length:\s*(\d+)/mi;
        $rest //= '';
        while (defined $len && length($rest) < $len && time < $deadline) {
            last unless $sel->can_read($deadline - time);
            my $n = sysread($sock, my $chunk, 65536);
            last unless $n;
            $rest .= $chunk;
        }
        return (undef, $status // 0, $head, $rest);
    }
    my $self = bless { sock => $sock, sel => $sel,
                       frame => Protocol::WebSocket::Frame->new(max_payload_size => 16 << 20),
                       closed => undef }, $class;
    $self->{frame}->append($rest) if defined $rest && length $rest;
    return $self;
}

# the bytes of one masked client text frame
sub frame_bytes {
    my ($text) = @_;
    return Protocol::WebSocket::Frame->new(buffer => $text, type => 'text', masked => 1,
                                           max_payload_size => 16 << 20)->to_bytes;
}

sub send_text {
    my ($self, $text) = @_;
    syswrite($self->{sock}, frame_bytes($text));
}

sub send_json { my ($self, $v) = @_; $self->send_text(JSON::PP->new->canonical->encode($v)) }

sub send_raw { my ($self, $bytes) = @_; syswrite($self->{sock}, $bytes) }

# next message (text payload, or undef on close/timeout); sets ->{closed} to the close code
# (and ->{close_reason} to its reason)
sub next_message {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (1) {
        my $msg = $self->{frame}->next_bytes;
        if (defined $msg) {
            if ($self->{frame}->is_close) {
                $self->{closed} = length($msg) >= 2 ? unpack('n', $msg) : 1005;
                $self->{close_reason} = length($msg) > 2 ? substr($msg, 2) : '';
                return undef;
            }
            next if $self->{frame}->is_ping || $self->{frame}->is_pong;
            return $msg;
        }
        my $left = $deadline - time;
        return undef if $left <= 0;
        return undef unless $self->{sel}->can_read($left);
        my $n = sysread($self->{sock}, my $chunk, 65536);
        if (!$n) { $self->{closed} //= 'eof'; return undef }
        $self->{frame}->append($chunk);
    }
}

# next decoded JSON event (skipping nothing), or undef
sub next_event {
    my ($self, $timeout) = @_;
    my $m = $self->next_message($timeout);
    return undef unless defined $m;
    return JSON::PP->new->decode($m);
}

# the events of conversation $cid up to the first that $want accepts, that one last; when none
# comes ($timeout, default 10 s, passing without an event) what came, the last not accepted
sub events_until {
    my ($self, $cid, $want, $timeout) = @_;
    my @seen;
    while (defined(my $e = $self->next_event($timeout // 10))) {
        next unless ($e->{conversation_id} // '') eq $cid;
        push @seen, $e;
        last if $want->($e);
    }
    return @seen;
}

# every event until $timeout passes quietly
sub drain {
    my ($self, $timeout) = @_;
    my @ev;
    while (defined(my $e = $self->next_event($timeout // 0.5))) { push @ev, $e }
    return @ev;
}

# the close code the server sends within $timeout seconds (events before it are skipped),
# or undef when the socket stays open that long
sub close_code {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (!defined $self->{closed}) {
        my $left = $deadline - time;
        last if $left <= 0;
        $self->next_message($left);
    }
    return $self->{closed};
}

sub close { my ($self) = @_; close $self->{sock} if $self->{sock}; delete $self->{sock} }

# A customer's chat opened on $node, escalated, and claimed by the supervisor $sup through
# $claim_node, the customer's socket on $ws_node (t/35, t/36): the customer, its socket, the
# claim's status and how many of @sockets and the customer's heard the claim.
sub claimed_chat {
    my ($node, $ws_node, $claim_node, $sup, @sockets) = @_;
    my $c = $node->customer;
    my $cws = ChatWS->connect(port => $ws_node->port, path => "/chat/api/v1/ws?after=0&token=$c->{token}");
    $node->escalate($c);
    my $claim = $claim_node->post("/chat/api/v1/agent/conversations/$c->{id}/claim", headers => $sup->{auth});
    my $assigned = sub { $_[0]{type} eq 'agent.assigned' };
    my $heard = grep { my @e = $_->events_until($c->{id}, $assigned); @e && $assigned->($e[-1]) }
        grep { $_ } @sockets, $cws;
    return ($c, $cws, $claim->{status}, $heard);
}

# How many of the sockets heard the events of conversation $id up to the one $last matches
# exactly as a run of posts raised them: message.created of @$seqs, once each and in order,
# and $updated conversation.updated (t/35, t/36).
sub heard_exactly {
    my ($id, $last, $seqs, $updated, @sockets) = @_;
    my $exact = 0;
    for my $ws (@sockets) {
        my @ev = $ws->events_until($id, $last);
        my @created = map { $_->{seq} } grep { $_->{type} eq 'message.created' } @ev;
        my $n = grep { $_->{type} eq 'conversation.updated' } @ev;
        $exact++ if join(',', @created) eq join(',', @$seqs) && $n == $updated;
    }
    return $exact;
}

1;
