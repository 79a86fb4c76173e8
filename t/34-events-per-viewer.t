# Events as each side sees them (API.md "Objects": a Conversation's unread_count is for the
# viewer; "Events": the read receipt): a Conversation an agent's socket hears carries the agent
# side's unread_count (what GET /agent/conversations/{id} answers then), a customer's socket the
# customer's, whoever wrote; a read that marked nothing is told to nobody (REST or a socket's read
# frame, agent or customer), and a read never says chat.closed again (only the close does).
#
# One worker with one Postgres connection: the events of consecutive requests, and of consecutive
# frames of one socket, are published in the order they were answered, so the event a later
# request raises arriving first proves that an earlier request raised none (no sleeps, no times).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }

my $ng = start_nginx(workers => 1, pool => 1);
my $A = '/chat/api/v1/agent';
my $admin = ChatTest::bearer($ng->agent_login('admin', 'Admin@123')->{token});
my $sup = $ng->new_agent($admin, 'sup', role => 'supervisor', max => 50);
ChatTest::quiet_state();    # nobody online: the chats below wait for the supervisor's claim

# The events $ws hears of conversation $cid until one that $want accepts, that one last; a
# failed test when none comes within 10 s.
sub until_event {
    my ($ws, $cid, $want, $what) = @_;
    my @seen;
    while (defined(my $e = $ws->next_event(10))) {
        next unless ($e->{conversation_id} // '') eq $cid;
        push @seen, $e;
        return @seen if $want->($e);
    }
    fail("the socket hears $what");
    return @seen;
}
sub type_is { my ($t) = @_; sub { $_[0]{type} eq $t } }
sub types { join ',', map { $_->{type} } @_ }

my $aws = ChatWS->connect(port => $ng->port, path => "$A/ws?token=$sup->{token}");
ok($aws, "the supervisor's socket opens");

# A customer whose chat the supervisor took: its conversation id, and both sockets.
sub taken_chat {
    my $c = $ng->customer;
    my $cws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$c->{token}");
    $ng->escalate($c);
    is($ng->post("$A/conversations/$c->{id}/claim", headers => $sup->{auth})->{status}, 200,
       'the supervisor claims the queued chat');
    until_event($aws, $c->{id}, type_is('agent.assigned'), 'the claim');
    until_event($cws, $c->{id}, type_is('agent.assigned'), 'the claim');
    return ($c, $cws);
}
sub customer_unread { $ng->get('/chat/api/v1/conversation?after=0', headers => $_[0]{auth})->{json}{conversation}{unread_count} }
sub agent_unread { $ng->get("$A/conversations/$_[0]{id}", headers => $sup->{auth})->{json}{conversation}{unread_count} }

# Each socket's last Conversation of an event of type $type, against each side's GET now.
sub each_hears_its_own {
    my ($c, $cws, $type, $what) = @_;
    my ($ae) = reverse until_event($aws, $c->{id}, type_is($type), $what);
    my ($ce) = reverse until_event($cws, $c->{id}, type_is($type), $what);
    my ($mine, $theirs) = (agent_unread($c), customer_unread($c));
    isnt($mine, $theirs, "  (the two sides' counts differ: $mine for the agent, $theirs for the customer)");
    is($ae && $ae->{data}{unread_count}, $mine, "$what: the agent's $type carries the agent side's unread_count");
    is($ce && $ce->{data}{unread_count}, $theirs, "$what: the customer's $type carries the customer's");
}

# --- unread_count: each side its own, whoever wrote ------------------------------------------

my ($c1, $cws1) = taken_chat();
my $p = $ng->post('/chat/api/v1/messages', headers => $c1->{auth}, json => { text => 'my parcel is late', client_id => uuid() });
is($p->{status}, 201, 'the customer writes');
each_hears_its_own($c1, $cws1, 'conversation.updated', "a customer's post");
is($ng->post("$A/conversations/$c1->{id}/messages", headers => $sup->{auth},
             json => { text => 'Let me check', client_id => uuid() })->{status}, 201, 'the agent answers');
each_hears_its_own($c1, $cws1, 'conversation.updated', "an agent's post");
$ng->post('/chat/api/v1/messages', headers => $c1->{auth}, json => { text => 'thanks', client_id => uuid() });
until_event($aws, $c1->{id}, type_is('conversation.updated'), 'the second post');
until_event($cws1, $c1->{id}, type_is('conversation.updated'), 'the second post');
my $close = $ng->post("$A/conversations/$c1->{id}/close", headers => $sup->{auth});
is($close->{status}, 200, 'the agent closes the chat with unread customer messages');
each_hears_its_own($c1, $cws1, 'chat.closed', 'the close');
my $last = $close->{json}{conversation}{last_seq};

# --- an agent's read of the closed chat -------------------------------------------------------

my $rd = $ng->post("$A/conversations/$c1->{id}/read", headers => $sup->{auth}, json => { up_to_seq => $last });
is($rd->{status}, 204, "the agent reads the closed chat's unread messages");
my @heard = until_event($cws1, $c1->{id}, type_is('read'), "the agent's read receipt");
is(types(grep { $_->{type} ne 'read' } @heard), 'conversation.updated',
   '  the customer hears the conversation updated, then the read; no second chat.closed');
is($heard[-1]{data}{sender_type}, 'agent', '  the read is the agent\'s');
is($heard[-1]{data}{up_to_seq}, $last, '  up to the seq read');
is($heard[0]{data}{unread_count}, customer_unread($c1), "  with the customer's own unread_count");
@heard = until_event($aws, $c1->{id}, type_is('conversation.updated'), "the agent's read");
is(types(@heard), 'conversation.updated', '  the agent hears the conversation updated, no second chat.closed');
is($heard[-1]{data}{unread_count}, 0, '  with nothing unread for the agent any more');
is(agent_unread($c1), 0, '  (as GET says)');

is($ng->post("$A/conversations/$c1->{id}/read", headers => $sup->{auth}, json => { up_to_seq => $last })->{status},
   204, 'the agent reads the closed chat again: nothing is marked');
is($ng->post('/chat/api/v1/rating', headers => $c1->{auth}, json => { score => 5 })->{status}, 200,
   'then the customer rates the chat');
my $rated = sub { $_[0]{type} eq 'conversation.updated' && $_[0]{data}{rating} };
is(types(until_event($cws1, $c1->{id}, $rated, 'the rating')), 'conversation.updated',
   "  the customer hears only the rating: the read that marked nothing published nothing");
is(types(until_event($aws, $c1->{id}, $rated, 'the rating')), 'conversation.updated',
   '  and so does the agent');

# a read frame of the agent's socket that marks nothing, then a request after it was handled
$aws->send_json({ type => 'read', conversation_id => $c1->{id}, up_to_seq => $last });
$aws->send_json({ type => 'ping' });
my $pong;
while (defined(my $e = $aws->next_event(10))) { if ($e->{type} eq 'pong') { $pong = 1; last } }
ok($pong, "the agent's socket sends a read frame of the closed chat that marks nothing");
is($ng->post('/chat/api/v1/identify', headers => $c1->{auth}, json => { name => 'Ana' })->{status}, 200,
   'then the customer gives their name');
my $named = sub { $_[0]{type} eq 'conversation.updated' && ($_[0]{data}{customer}{name} // '') eq 'Ana' };
is(types(until_event($cws1, $c1->{id}, $named, 'the name')), 'conversation.updated',
   '  the customer hears only the name: the read frame published nothing');
is(types(until_event($aws, $c1->{id}, $named, 'the name')), 'conversation.updated', '  and so does the agent');

# --- the customer's reads ---------------------------------------------------------------------

is($ng->post('/chat/api/v1/read', headers => $c1->{auth}, json => { up_to_seq => $last })->{status}, 204,
   'the customer reads the closing message');
@heard = until_event($aws, $c1->{id}, type_is('read'), "the customer's read receipt");
is(types(@heard), 'read', '  the agent hears the read receipt alone');
is($heard[-1]{data}{sender_type}, 'customer', "  the customer's");
is($ng->post('/chat/api/v1/read', headers => $c1->{auth}, json => { up_to_seq => $last })->{status}, 204,
   'the customer reads again: nothing is marked');
is($ng->post('/chat/api/v1/identify', headers => $c1->{auth}, json => { name => 'Ana B' })->{status}, 200,
   'then gives another name');
$named = sub { $_[0]{type} eq 'conversation.updated' && ($_[0]{data}{customer}{name} // '') eq 'Ana B' };
is(types(until_event($aws, $c1->{id}, $named, 'the new name')), 'conversation.updated',
   '  the agent hears only the name: the read that marked nothing published nothing');

# --- the agent's read frames on an open chat ----------------------------------------------------

my ($c2, $cws2) = taken_chat();
my @seq;
for my $text ('first question', 'second question') {
    my $m = $ng->post('/chat/api/v1/messages', headers => $c2->{auth}, json => { text => $text, client_id => uuid() });
    push @seq, $m->{json}{messages}[0]{seq};
    until_event($aws, $c2->{id}, type_is('conversation.updated'), 'the question');
}
$aws->send_json({ type => 'read', conversation_id => $c2->{id}, up_to_seq => $seq[0] });
@heard = until_event($cws2, $c2->{id}, type_is('read'), 'the read frame');
is($heard[-1]{data}{up_to_seq}, $seq[0], "a read frame that marks a message reaches the customer as a read receipt");
is($heard[-1]{data}{sender_type}, 'agent', "  the agent's");
# as the REST read (above): the agents hear the conversation updated with the agent side's count
my ($upd) = reverse until_event($aws, $c2->{id}, type_is('conversation.updated'), 'the read frame');
is($upd && $upd->{data}{unread_count}, 1, "  and the agent's socket hears the conversation updated, one message still unread");
is(agent_unread($c2), 1, '  (as GET says)');
$aws->send_json({ type => 'read', conversation_id => $c2->{id}, up_to_seq => $seq[0] });    # marks nothing
$aws->send_json({ type => 'read', conversation_id => $c2->{id}, up_to_seq => $seq[1] });
@heard = until_event($cws2, $c2->{id}, type_is('read'), 'the second read frame');
is($heard[-1]{data}{up_to_seq}, $seq[1],
   'the next read receipt the customer hears is the one that marked something: the frame in between published nothing');

$_->close for $aws, $cws1, $cws2;
$ng->stop;
done_testing;
