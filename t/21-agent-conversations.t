# The agent side of a conversation (API.md "Agent endpoints", "Lifecycle",
# "Assignment"): a customer escalates into an empty queue, an agent comes online
# and gets the chat, both sides talk, others can't touch it (a supervisor can),
# close is terminal, and the views paginate with a cursor.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use Time::HiRes qw(time);

# Deterministic global state: nobody online, no open conversation (the database is
# shared with the other test files). Before nginx starts, so no cache holds old state.
ChatTest::sql("UPDATE agents SET presence = 'offline';
               UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL
                WHERE status <> 'closed'");

# the site t21-order holds only the conversations of the part on list order (its own location)
my $S = 't21-order';
my $B = '/t21/chat/api/v1';
ChatTest::sql("DELETE FROM conversations WHERE site = '$S'");   # an earlier run's
my $ng = ChatTest::start_nginx(workers => 3, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /t21/chat/api/ { chat_api; chat_site $S; }
CONF

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }
sub bearer { { Authorization => "Bearer $_[0]" } }
my $A = '/chat/api/v1/agent';

sub login {
    my ($u, $p) = @_;
    my $r = $ng->post("$A/login", json => { username => $u, password => $p });
    die "login $u: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}

my $admin = bearer(login('admin', 'Admin@123')->{token});
sub create_agent {
    my ($tag, $name, $role, $max) = @_;
    my $u = "t21.$tag.$run";
    my $p = "T21-Pass-$tag-$run";
    my $c = $ng->post('/chat/api/v1/admin/agents', headers => $admin,
                      json => { username => $u, password => $p, display_name => $name,
                                role => $role, max_active_chats => $max });
    die "create $u: $c->{status} $c->{body}" unless $c->{status} == 201;
    my $l = login($u, $p);
    return { id => $l->{agent}{id}, name => $name, auth => bearer($l->{token}) };
}

my $name = "T21 Agent $run";
my $ag  = create_agent('one', $name, 'agent', 10);
my $ag2 = create_agent('two', "T21 Second $run", 'agent', 10);
my $sup = create_agent('sup', "T21 Supervisor $run", 'supervisor', 10);

sub customer {
    my (%ctx) = @_;
    my $s = $ng->post('/chat/api/v1/session', json => { context => \%ctx });
    die "session: $s->{status}" unless $s->{status} == 200;
    return bearer($s->{json}{token});
}
sub cust_conv { $ng->get("/chat/api/v1/conversation?after=$_[1]&limit=200", headers => $_[0])->{json} }

# --- escalation into an empty queue ----------------------------------------------

my $cust = customer(product_id => "sku-t21-$run", product_name => 'Blue Kettle');
my $esc = $ng->post('/chat/api/v1/escalate', headers => $cust, json => {});
is($esc->{status}, 200, 'a customer escalates with nobody online');
my $cid = $esc->{json}{conversation}{id};
is($esc->{json}{conversation}{queue_position}, 1, 'and is first in the queue');
is($esc->{json}{conversation}{assigned_agent}, undef, 'with no agent');
my $c0 = cust_conv($cust, 0);
is(scalar(grep { $_->{content} eq 'All agents are busy. You are in queue.' } @{ $c0->{messages} }), 1,
   'the customer sees the queue message once');
is($c0->{conversation}{queue_position}, 1, 'GET /conversation shows queue_position 1');
$ng->post('/chat/api/v1/escalate', headers => $cust, json => {});
is(scalar(grep { $_->{content} eq 'All agents are busy. You are in queue.' }
          @{ cust_conv($cust, 0)->{messages} }), 1, 'escalating again does not repeat it');

my $q = $ng->get("$A/conversations?view=queue", headers => $ag->{auth});
is($q->{status}, 200, 'an agent lists the queue');
is_deeply([ map { $_->{id} } @{ $q->{json}{conversations} } ], [$cid], 'it holds exactly this conversation');
is($q->{json}{conversations}[0]{last_message}{content}, 'All agents are busy. You are in queue.',
   'with its last_message');

# --- an agent comes online and gets it ------------------------------------------

my $on = $ng->post("$A/presence", headers => $ag->{auth}, json => { presence => 'online' });
is($on->{status}, 200, 'the agent goes online');
is($on->{json}{agent}{presence}, 'online', 'presence is online');

my $c1 = wait_until(sub { my $c = cust_conv($cust, 0); $c->{conversation}{assigned_agent} ? $c : undef }, 5);
ok($c1, 'the queued conversation is assigned to them');
is($c1->{conversation}{assigned_agent}{display_name}, $name, 'the customer sees assigned_agent.display_name');
is($c1->{conversation}{assigned_agent}{id}, $ag->{id}, 'and its id');
is($c1->{conversation}{queue_position}, undef, 'queue_position is null once assigned');
is($c1->{conversation}{status}, 'agent', 'status stays agent');
is(scalar(grep { $_->{sender_type} eq 'system' && $_->{content} eq "$name joined the chat" }
          @{ $c1->{messages} }), 1, "the customer sees \"$name joined the chat\" once");
is($ng->get("$A/me", headers => $ag->{auth})->{json}{agent}{active_chats}, 1,
   'the agent has one active chat');

my $act = $ng->get("$A/conversations?view=active", headers => $ag->{auth});
is($act->{status}, 200, 'view=active answers 200');
my ($mine) = grep { $_->{id} eq $cid } @{ $act->{json}{conversations} };
ok($mine, 'the agent sees it in view=active');
is($mine->{context}{product_id}, "sku-t21-$run", 'with the context product_id');
ok($mine->{last_message}, 'and a last_message');
is(scalar @{ $ng->get("$A/conversations?view=queue", headers => $ag->{auth})->{json}{conversations} }, 0,
   'the queue is empty now');

my $one = $ng->get("$A/conversations/$cid?after=0", headers => $ag->{auth});
is($one->{status}, 200, 'the agent reads the conversation');
is($one->{json}{conversation}{context}{product_name}, 'Blue Kettle', 'with its full context');
is_deeply([ map { $_->{seq} } @{ $one->{json}{messages} } ], [ 1 .. $one->{json}{conversation}{last_seq} ],
   'and the whole history, seq 1.. without gaps');

# --- talking --------------------------------------------------------------------

my $seq0 = $one->{json}{conversation}{last_seq};
my $pcid = uuid();
my $post = $ng->post("$A/conversations/$cid/messages", headers => $ag->{auth},
                     json => { text => 'Hi, I can help with the kettle.', client_id => $pcid });
is($post->{status}, 201, 'the agent posts a message: 201');
my $am = $post->{json}{messages}[0];
is($am->{sender_type}, 'agent', 'sender_type agent');
is($am->{sender_agent_id}, $ag->{id}, 'sender_agent_id is the agent');
is($am->{seq}, $seq0 + 1, 'the next seq');

my $got = cust_conv($cust, $seq0);
is_deeply([ map { $_->{content} } @{ $got->{messages} } ], ['Hi, I can help with the kettle.'],
   'the customer gets it via GET /conversation?after=');

my $again = $ng->post("$A/conversations/$cid/messages", headers => $ag->{auth},
                      json => { text => 'Hi, I can help with the kettle.', client_id => $pcid });
ok($again->{status} == 201 || $again->{status} == 200, 'the same client_id again succeeds');
is($again->{json}{messages}[0]{id}, $am->{id}, 'with the original message');
is(scalar @{ cust_conv($cust, $seq0)->{messages} }, 1, 'and nothing is written twice');

my $reply = $ng->post('/chat/api/v1/messages', headers => $cust,
                      json => { text => 'Great, is it in stock?', client_id => uuid() });
is($reply->{status}, 201, 'the customer replies');
is(scalar @{ $reply->{json}{messages} }, 1, 'the bot stays silent');
my $seen = $ng->get("$A/conversations/$cid?after=" . ($seq0 + 1), headers => $ag->{auth});
is_deeply([ map { [$_->{sender_type}, $_->{content}] } @{ $seen->{json}{messages} } ],
          [[ 'customer', 'Great, is it in stock?' ]], 'the agent sees it via GET /agent/conversations/{id}?after=');
ok($seen->{json}{conversation}{unread_count} >= 1, 'unread for the agent');
my $rd = $ng->post("$A/conversations/$cid/read", headers => $ag->{auth},
                   json => { up_to_seq => $seen->{json}{conversation}{last_seq} });
is($rd->{status}, 204, 'the agent marks it read: 204');
is($ng->get("$A/conversations/$cid", headers => $ag->{auth})->{json}{conversation}{unread_count}, 0,
   'then nothing is unread for the agent');
my ($cm) = grep { $_->{sender_type} eq 'customer' && $_->{content} eq 'Great, is it in stock?' }
           @{ cust_conv($cust, 0)->{messages} };
ok($cm->{read_at}, "the customer's message carries read_at");

my $empty = $ng->post("$A/conversations/$cid/messages", headers => $ag->{auth},
                      json => { text => '', client_id => uuid() });
is($empty->{status}, 422, 'an empty agent message is 422');

# --- someone else's conversation --------------------------------------------------

my $other_get = $ng->get("$A/conversations/$cid", headers => $ag2->{auth});
ok($other_get->{status} == 404 || $other_get->{status} == 403,
   "another agent can't read it (404 or 403)") or diag($other_get->{status});
my $other_post = $ng->post("$A/conversations/$cid/messages", headers => $ag2->{auth},
                           json => { text => 'not mine', client_id => uuid() });
ok($other_post->{status} == 404 || $other_post->{status} == 403, "nor write to it")
    or diag($other_post->{status});
my $other_close = $ng->post("$A/conversations/$cid/close", headers => $ag2->{auth}, json => {});
ok($other_close->{status} == 404 || $other_close->{status} == 403, "nor close it")
    or diag($other_close->{status});
my $other_claim = $ng->post("$A/conversations/$cid/claim", headers => $ag2->{auth}, json => {});
ok($other_claim->{status} == 404 || $other_claim->{status} == 403 || $other_claim->{status} == 409,
   "nor claim it") or diag($other_claim->{status});
ok(!(grep { $_->{id} eq $cid } @{ $ng->get("$A/conversations?view=all", headers => $ag2->{auth})->{json}{conversations} }),
   "and it is not in the other agent's view=all");
is(scalar(grep { ($_->{content} // '') eq 'not mine' } @{ cust_conv($cust, 0)->{messages} }), 0,
   'nothing was written by the other agent');

my $sup_get = $ng->get("$A/conversations/$cid?after=0", headers => $sup->{auth});
is($sup_get->{status}, 200, 'a supervisor can read it');
is($sup_get->{json}{conversation}{assigned_agent}{id}, $ag->{id}, 'and sees who has it');
ok((grep { $_->{id} eq $cid } @{ $ng->get("$A/conversations?view=all&limit=100", headers => $sup->{auth})->{json}{conversations} }),
   "it is in the supervisor's view=all");

# --- bad ids -----------------------------------------------------------------------

for my $bad ('not-a-uuid', '12345', '00000000-0000-4000-8000-000000000000') {
    my $r = $ng->get("$A/conversations/$bad", headers => $ag->{auth});
    is($r->{status}, 404, "GET /agent/conversations/$bad is 404");
    is($r->{json}{error}{code}, 'not_found', '  with code not_found');
}
is($ng->post("$A/conversations/not-a-uuid/close", headers => $ag->{auth}, json => {})->{status}, 404,
   'closing a malformed id is 404');
is($ng->get("$A/conversations?view=nonsense", headers => $ag->{auth})->{status}, 422, 'an unknown view is 422');
is($ng->get("$A/conversations?view=all&cursor=%21%21garbage", headers => $ag->{auth})->{status}, 422,
   'a cursor that was never issued is 422');
is($ng->get("$A/conversations?view=active")->{status}, 401, 'the views need a token');

# --- close --------------------------------------------------------------------------

my $cl = $ng->post("$A/conversations/$cid/close", headers => $ag->{auth}, json => {});
is($cl->{status}, 200, 'the agent closes the conversation: 200');
is($cl->{json}{conversation}{status}, 'closed', 'status closed');
ok($cl->{json}{conversation}{closed_at}, 'closed_at is set');
is(scalar @{ $cl->{json}{messages} }, 1, 'one message is added');
is($cl->{json}{messages}[0]{sender_type}, 'system', 'a system message');
my $cc = cust_conv($cust, 0);
is($cc->{conversation}{status}, 'closed', 'the customer sees the chat closed');
is($cc->{messages}[-1]{id}, $cl->{json}{messages}[0]{id}, 'and the close message last');

my $after_close = $ng->post('/chat/api/v1/messages', headers => $cust,
                            json => { text => 'one more thing', client_id => uuid() });
is($after_close->{status}, 409, 'then a customer message is 409');
is($after_close->{json}{error}{code}, 'invalid_state', 'with code invalid_state');
my $ag_after = $ng->post("$A/conversations/$cid/messages", headers => $ag->{auth},
                         json => { text => 'one more thing', client_id => uuid() });
is($ag_after->{status}, 409, 'an agent message is 409');
is($ag_after->{json}{error}{code}, 'invalid_state', 'with code invalid_state');
my $reclose = $ng->post("$A/conversations/$cid/close", headers => $ag->{auth}, json => {});
is($reclose->{status}, 409, 'closing again is 409');
is($reclose->{json}{error}{code}, 'invalid_state', 'with code invalid_state');
is($ng->post('/chat/api/v1/escalate', headers => $cust, json => {})->{status}, 409,
   'the customer cannot escalate a closed chat');
is($ng->get("$A/me", headers => $ag->{auth})->{json}{agent}{active_chats}, 0, 'the agent has no active chat');

my $closed = $ng->get("$A/conversations?view=closed&limit=100", headers => $ag->{auth});
is($closed->{status}, 200, 'view=closed answers 200');
ok((grep { $_->{id} eq $cid } @{ $closed->{json}{conversations} }), 'and lists it');
ok(!(grep { $_->{id} eq $cid } @{ $ng->get("$A/conversations?view=active", headers => $ag->{auth})->{json}{conversations} }),
   'view=active no longer does');
is($ng->get("$A/conversations/$cid", headers => $ag->{auth})->{status}, 200,
   'the agent can still read the closed chat they handled');

# an automated conversation can't be closed
my $auto = customer();
my $auto_id = cust_conv($auto, 0)->{conversation}{id};
my $auto_close = $ng->post("$A/conversations/$auto_id/close", headers => $sup->{auth}, json => {});
is($auto_close->{status}, 409, 'closing an automated conversation is 409 (even for a supervisor)');

# --- cursor pagination over view=all ---------------------------------------------------

# the agent (online, room for 10) gets 4 more chats; one of them closed
my @ids = ($cid);
for my $i (1 .. 4) {
    my $c = customer(product_id => "sku-page-$i");
    my $e = $ng->post('/chat/api/v1/escalate', headers => $c, json => {});
    is($e->{json}{conversation}{assigned_agent}{id}, $ag->{id}, "customer $i is assigned to the online agent at once");
    push @ids, $e->{json}{conversation}{id};
}
is($ng->post("$A/conversations/$ids[2]/close", headers => $ag->{auth}, json => {})->{status}, 200,
   'one of them is closed');

my (@visited, $cursor, $pages);
while (1) {
    my $url = "$A/conversations?view=all&limit=2" . (defined $cursor ? "&cursor=$cursor" : '');
    my $p = $ng->get($url, headers => $ag->{auth});
    is($p->{status}, 200, 'a page of view=all answers 200') or last;
    my @c = @{ $p->{json}{conversations} };
    ok(@c <= 2, 'with at most limit=2 conversations');
    push @visited, map { $_->{id} } @c;
    $cursor = $p->{json}{next_cursor};
    last unless defined $cursor && length $cursor;
    last if ++$pages > 20;
}
is(scalar(@visited), 5, 'the pages hold 5 conversations in all');
is_deeply([ sort @visited ], [ sort @ids ], 'each of the agent\'s conversations exactly once');

my (@qv, $qc);
for (1 .. 10) {
    my $p = $ng->get("$A/conversations?view=active&limit=1" . (defined $qc ? "&cursor=$qc" : ''),
                     headers => $ag->{auth})->{json};
    push @qv, map { $_->{id} } @{ $p->{conversations} };
    $qc = $p->{next_cursor};
    last unless defined $qc && length $qc;
}
is_deeply([ sort @qv ], [ sort grep { $_ ne $cid && $_ ne $ids[2] } @ids ],
          'view=active with limit=1 pages through the 3 open ones exactly once');

# --- a site's views list by updated_at exactly, whatever the minutes ------------------------
# view=all and view=closed of a supervisor go through the site's conversations by minute
# (updated_minute, 030_hot_post_update: so a customer's post within the minute writes no index
# entry) and sort each minute: the order is still (updated_at DESC, id) and each page goes on
# exactly where the last one ended, within a minute, across a minute's boundary, on ties.

my $osup = $ng->new_agent($admin, 'order', role => 'supervisor', site => $S, base => $B);
my @oc = map { $ng->customer(base => $B) } 1 .. 7;
my %cust = map { $_->{id} => $_ } @oc;
# four in the minute 10:01, the later the larger the id: ordered by id they would come the
# other way round; two of them at the same microsecond
my @m = sort map { $_->{id} } @oc[0 .. 3];
my @o = map { $_->{id} } @oc[4 .. 6];
my %at = map { ($_->[0] => "2021-03-04 $_->[1]") } [ $m[0], '10:01:00.000000' ], [ $m[1], '10:01:00.250000' ],
    [ $m[2], '10:01:30.500000' ], [ $m[3], '10:01:30.500000' ], [ $o[0], '10:00:59.250000' ],
    [ $o[1], '10:00:30.000000' ], [ $o[2], '09:59:59.999999' ];
my %closed = map { $_ => 1 } @m[0 .. 2], $o[2];
ChatTest::sql(join ';', map { "UPDATE conversations SET updated_at = '$at{$_}+00'"
    . ($closed{$_} ? ", status = 'closed', closed_at = '$at{$_}+00'" : '') . " WHERE id = '$_'" } keys %at);
# the site lists' narrow rows follow (034_conversation_minutes), as every writer keeps them
sub minutes_follow {
    ChatTest::sql("UPDATE conversation_minutes r SET updated_minute = chat_minute(c.updated_at)
                     FROM conversations c WHERE c.id = r.id AND c.site = '$S'");
}
minutes_follow();
# newest first, ties by id (a uuid orders as its text)
my @want = sort { $at{$b} cmp $at{$a} || $a cmp $b } keys %at;

# every id of a view ($who's: the supervisor's if none), following next_cursor from page to page
sub listed {
    my ($view, $limit, $who) = @_;
    my (@ids, $cur);
    for (1 .. 20) {
        my $p = $ng->get("$B/agent/conversations?view=$view&limit=$limit" . (defined $cur ? "&cursor=$cur" : ''),
                         headers => ($who // $osup)->{auth});
        return "status $p->{status}" unless $p->{status} == 200;
        push @ids, map { $_->{id} } @{ $p->{json}{conversations} };
        $cur = $p->{json}{next_cursor};
        last unless defined $cur && length $cur;
    }
    return \@ids;
}
is_deeply(listed('all', $_), \@want, "view=all, $_ a page, lists the site by updated_at newest first, ties by id")
    for 1, 2, 3, 50;
is_deeply(listed('closed', 1), [ grep { $closed{$_} } @want ], 'so does view=closed, one a page');

# a post moves its conversation to the top: the later one first, in one minute or across two
for my $id ($o[1], $m[3]) {
    my $r = $ng->post("$B/messages", headers => $cust{$id}{auth}, json => { text => 'still there?', client_id => uuid() });
    is($r->{status}, 201, 'a customer of the site posts');
}
is_deeply(listed('all', 2), [ $m[3], $o[1], grep { $_ ne $m[3] && $_ ne $o[1] } @want ],
          'the conversation posted to last comes first, the one before it second, the rest as they were');

# --- every kind of change moves its conversation to the top of the site's list --------------
# Each writer of a conversation's updated_at writes its narrow row (conversation_minutes: the
# site lists' order, 034_conversation_minutes) in the same transaction. Before each change the
# conversation is made the site's oldest (the others a day back, it in 2000, narrow rows
# following); after it the supervisor's view=all, two a page, lists it first and the site in
# (updated_at DESC, id) order exactly. A writer that forgot the narrow row would leave the
# conversation at the bottom, in its old minute.
my $mc = $ng->customer(base => $B);
my $mover = $ng->new_agent($admin, 'mover', role => 'agent', site => $S, base => $B, max => 5);
my $taker = $ng->new_agent($admin, 'taker', role => 'agent', site => $S, base => $B, max => 5);
sub site_order {
    [ split /\n/, ChatTest::sql("SELECT string_agg(id::text, E'\\n' ORDER BY updated_at DESC, id)
                                   FROM conversations WHERE site = '$S'") ]
}
sub moves_to_top {
    my ($what, $change) = @_;
    ChatTest::sql("UPDATE conversations SET updated_at = CASE WHEN id = '$mc->{id}'
                          THEN timestamptz '2000-01-01 00:00:00+00' ELSE updated_at - interval '1 day' END
                    WHERE site = '$S'");
    minutes_follow();
    is(listed('all', 50)->[-1], $mc->{id}, "before $what: the conversation is the site's oldest");
    my $r = $change->();
    ok($r->{status} >= 200 && $r->{status} < 300, "$what answers $r->{status}") or diag $r->{body};
    my $got = listed('all', 2);
    is($got->[0], $mc->{id}, "$what moves the conversation to the top of the site's list");
    is_deeply($got, site_order(), "after $what the site is listed by updated_at newest first, ties by id");
}
my $cpath = "$B/agent/conversations/$mc->{id}";
moves_to_top('a customer post', sub {
    $ng->post("$B/messages", headers => $mc->{auth}, json => { text => 'hello there', client_id => uuid() }) });
moves_to_top('the session given a context', sub {
    $ng->post("$B/session", headers => $mc->{auth}, json => { context => { page_url => "/cart/$run" } }) });
moves_to_top('the customer identifying', sub {
    $ng->post("$B/identify", headers => $mc->{auth}, json => { name => 'Minute Mover' }) });
moves_to_top('an escalation', sub { $ng->post("$B/escalate", headers => $mc->{auth}, json => {}) });
moves_to_top('a supervisor tagging it', sub {
    $ng->patch($cpath, headers => $osup->{auth}, json => { tags => ['minute'], priority => 'high' }) });
moves_to_top('its assignment (an agent comes online)', sub {
    $ng->post("$B/agent/presence", headers => $mover->{auth}, json => { presence => 'online' }) });
moves_to_top('an agent post', sub {
    $ng->post("$cpath/messages", headers => $mover->{auth}, json => { text => 'I am here', client_id => uuid() }) });
$ng->presence($taker, 'online', $B);
moves_to_top('a transfer', sub {
    $ng->post("$cpath/transfer", headers => $mover->{auth}, json => { agent_id => $taker->{id} }) });
moves_to_top('a close', sub { $ng->post("$cpath/close", headers => $taker->{auth}, json => {}) });
moves_to_top('a rating', sub { $ng->post("$B/rating", headers => $mc->{auth}, json => { score => 5 }) });
$ng->presence($_, 'offline', $B) for $mover, $taker;

# --- an agent's own closed and all views: the same order and cursors ----------------------
# An agent (role agent) lists what they handled: assigned to them (closed, or open for all),
# or written in and now another's (transferred). These come from their own indexes and are
# sorted in memory (033_indexes), in (updated_at DESC, id) order as every view, each page
# going on exactly where the last ended, on ties and across minutes; another agent's
# conversation they never wrote in is in neither.
my $handler = $ng->new_agent($admin, 'handler', role => 'agent', site => $S, base => $B);
my @ac = map { $ng->customer(base => $B)->{id} } 1 .. 7;
my @am = sort @ac[0 .. 3];
my %aat = map { ($_->[0] => "2021-05-06 $_->[1]") } [ $am[0], '08:00:10.000000' ], [ $am[1], '08:00:40.500000' ],
    [ $am[2], '08:00:40.500000' ], [ $am[3], '07:59:59.999999' ], [ $ac[4], '08:01:00.000000' ],
    [ $ac[5], '08:00:40.500000' ];
# @am closed and assigned to the agent; $ac[4] open and assigned to them (all, not closed);
# $ac[5] closed, another agent's, the agent wrote in it; $ac[6] closed, another's, not written in
my %aclosed = map { $_ => 1 } @am, $ac[5], $ac[6];
ChatTest::sql(join ';',
    (map { "UPDATE conversations SET updated_at = '" . ($aat{$_} // '2021-05-06 08:00:20') . "+00', "
           . ($aclosed{$_} ? "status = 'closed', closed_at = updated_at, " : "status = 'agent', ")
           . "assigned_agent_id = '" . ($_ eq $ac[5] || $_ eq $ac[6] ? $osup->{id} : $handler->{id}) . "' WHERE id = '$_'" } @ac),
    "INSERT INTO messages (conversation_id, seq, sender_type, sender_agent_id, content)
     SELECT id, last_seq + 1, 'agent', '$handler->{id}', 'a word before the transfer' FROM conversations WHERE id = '$ac[5]'",
    "UPDATE conversations SET last_seq = last_seq + 1, version = version + 1,
            customer_unread = customer_unread + 1 WHERE id = '$ac[5]'");   # as chat_append counts it (t/16)
minutes_follow();
my @awant = sort { $aat{$b} cmp $aat{$a} || $a cmp $b } keys %aat;
is_deeply(listed('closed', $_, $handler), [ grep { $aclosed{$_} } @awant ],
          "an agent's view=closed, $_ a page, lists what they handled by updated_at newest first, ties by id")
    for 1, 2, 50;
is_deeply(listed('all', $_, $handler), \@awant, "so does their view=all, $_ a page") for 1, 3, 50;

# leave nothing open for the next files
for my $id (@ids) {
    $ng->post("$A/conversations/$id/close", headers => $sup->{auth}, json => {});
}
$ng->post("$A/presence", headers => $ag->{auth}, json => { presence => 'offline' });

$ng->stop;
done_testing;
