# A read frame on a socket (API.md "Events", client frames) is the REST read: after it, the
# reads the shared-memory cache serves show the new read state, on this node and on others,
# the customer's own frame (read_at of the bot's and agents' messages, unread_count) as an
# agent's (read_at of the customer's messages), as after POST /read and POST
# /agent/conversations/{id}/read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8060-%012d', $$ * 10000 + ++$n) }

my $ng = start_nginx(workers => 2);
my $A = '/chat/api/v1/agent';

# GET /conversation of a customer (on $ng, or on the nginx $on), and whether the
# shared-memory cache answered it
sub conversation {
    my ($c, $on) = @_;
    $on //= $ng;
    my $hits = $on->status->{counters}{cache_hits};
    my $r = $on->get('/chat/api/v1/conversation?after=0', headers => $c->{auth})->{json};
    return ($r, $on->status->{counters}{cache_hits} > $hits);
}
sub unread_of { my ($r, $side) = @_; grep { ($_->{sender_type} eq 'customer') == ($side eq 'agent') && !defined $_->{read_at} } @{ $r->{messages} } }

# A customer in an automated chat: the greeting, its question and the bot's answer (seq 1-3).
sub asked {
    my $c = $ng->customer;
    my $m = $ng->post('/chat/api/v1/messages', headers => $c->{auth},
                      json => { text => 'How long does shipping take?', client_id => uuid() });
    is($m->{status}, 201, 'the customer asks and the bot answers');
    my ($r, $cached) = conversation($c);
    ok($cached, 'GET /conversation is served from the cache');
    is($r->{conversation}{last_seq}, 3, '... with the three messages');
    return ($c, $r);
}

# The socket's events until the replay reached $seq (a failed test when it does not in 10 s).
sub replayed {
    my ($ws, $seq) = @_;
    while (defined(my $e = $ws->next_event(10))) {
        return 1 if $e->{type} eq 'message.created' && $e->{seq} == $seq;
    }
    return fail("the socket replays up to seq $seq");
}

# the customer's read frame
{
    my ($c, $r) = asked();
    is($r->{conversation}{unread_count}, 2, 'the greeting and the answer are unread for the customer');
    is(scalar(unread_of($r, 'customer')), 2, '... without read_at');

    my $ws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$c->{token}");
    ok($ws, 'the customer socket opens');
    replayed($ws, 3);
    $ws->send_json({ type => 'read', up_to_seq => 3 });

    my $now;
    ok(ChatTest::wait_until(sub { ($now) = conversation($c); $now->{conversation}{unread_count} == 0 }, 10),
       "after the customer's read frame GET /conversation shows nothing unread");
    is(scalar(unread_of($now, 'customer')), 0, '... and read_at on the greeting and the answer');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$c->{id}'
                       AND sender_type <> 'customer' AND read_at IS NULL"), 0, 'as the database says');
    my (undef, $cached) = conversation($c);
    ok($cached, 'the conversation is cached again');
    $ws->close;
}

# another node's cached copy goes too: the read receipt tells it through Redis
{
    my $b = start_nginx(workers => 1, name => '60-b');
    my ($c) = asked();
    conversation($c, $b);
    my ($r, $cached) = conversation($c, $b);
    ok($cached, 'another nginx caches the chat too');
    is($r->{conversation}{unread_count}, 2, '... with the greeting and the answer unread');

    my $ws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$c->{token}");
    replayed($ws, 3);
    $ws->send_json({ type => 'read', up_to_seq => 3 });
    my $now;
    ok(ChatTest::wait_until(sub { ($now) = conversation($c, $b); $now->{conversation}{unread_count} == 0 }, 10),
       "after the customer's read frame on one nginx, the other's GET /conversation shows nothing unread");
    is(scalar(unread_of($now, 'customer')), 0, '... and read_at on the greeting and the answer');
    $ws->close;
    $b->stop;
}

# an agent's read: a supervisor may read a chat the bot still answers (chat_agent_can_write),
# and marks the customer's messages read, which the customer's cached conversation shows
my $admin = ChatTest::bearer($ng->agent_login('admin', 'Admin@123')->{token});
my $sup = $ng->new_agent($admin, 'sup', role => 'supervisor', max => 50);
my $aws = ChatWS->connect(port => $ng->port, path => "$A/ws?token=$sup->{token}");
ok($aws, "the supervisor's socket opens");

sub agent_read_shows {
    my ($what, $read) = @_;
    my ($c, $r) = asked();
    is(scalar(unread_of($r, 'agent')), 1, "the customer's question has no read_at");
    my $cws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$c->{token}");
    replayed($cws, 3);
    $read->($c);
    my $now;
    ok(ChatTest::wait_until(sub { ($now) = conversation($c); !unread_of($now, 'agent') }, 10),
       "after $what the customer's GET /conversation shows its question read");
    # the session id the read now reads (to drop the cached copy) never reaches a client
    my $sid = ChatTest::sql("SELECT session_id FROM conversations WHERE id = '$c->{id}'");
    my $heard;
    while (defined(my $m = $cws->next_message(10))) {
        next unless JSON::PP->new->decode($m)->{type} eq 'read';
        $heard = $m;
        last;
    }
    ok(defined $heard, "the customer's socket hears the read");
    unlike($heard // '', qr/\Q$sid\E/, '... without the session id');
    $cws->close;
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$c->{id}'
                       AND sender_type = 'customer' AND read_at IS NULL"), 0, 'as the database says');
    is($ng->get("$A/conversations/$c->{id}", headers => $sup->{auth})->{json}{conversation}{unread_count}, 0,
       'and the agent side has nothing unread');
    my (undef, $cached) = conversation($c);
    ok($cached, 'the conversation is cached again');
}

agent_read_shows("the agent's read frame", sub {
    $aws->send_json({ type => 'read', conversation_id => $_[0]{id}, up_to_seq => 3 });
});
agent_read_shows('POST /agent/conversations/{id}/read', sub {
    my $res = $ng->post("$A/conversations/$_[0]{id}/read", headers => $sup->{auth}, json => { up_to_seq => 3 });
    is($res->{status}, 204, 'the supervisor reads through REST');
    is($res->{body} // '', '', '... and the answer has no body (the session id it read stays inside)');
});

$aws->close;
$ng->stop;
done_testing;
