# Agent tools (API.md "Operators": "Agent tools", "Admin"): PATCH a conversation's priority,
# tags and department (a department change requeues it there), private notes (idempotent by
# client_id, never shown to the customer, note.created heard by agents only), canned replies
# (admin CRUD per site, 409 on a taken shortcut, any agent lists them) and the views' filters
# tag=, department_id=, priority= and q= (full-text search over message text); each with its
# 422 naming the field, 403 for another agent's chat and 404 for another site's ids; and department
# changes racing assignment (members only, nobody over capacity).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use ChatWS;
use JSON::PP ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();

sub reset_state { ChatTest::quiet_state() }    # nobody online, no open chat
reset_state();

my $S2 = 't45-shop';
my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /shop/chat/api/ { chat_api; chat_site $S2; }
CONF
my $C = '/chat/api/v1';
my $A = '/chat/api/v1/agent';
my $run = ChatTest::run_id();
my $admin = bearer($ng->agent_login('admin', 'Admin@123')->{token});
sub create_agent { $ng->new_agent($admin, @_) }
sub presence { $ng->presence(@_) }
sub department {
    my ($name, $members, %o) = @_;
    return ChatTest::department("$name $run", members => $members, %o);
}
sub customer { $ng->customer(@_) }
sub escalate { $ng->escalate(@_)->{conversation} }
sub say_ {
    my ($c, $text) = @_;
    my $r = $ng->post("$C/messages", headers => $c->{auth}, json => { text => $text });
    die "post: $r->{status} $r->{body}" unless $r->{status} == 201;
}
sub patch_conv {
    my ($who, $c, $body, $base) = @_;
    return $ng->patch(($base // $A) . "/conversations/$c->{id}", headers => $who, json => $body);
}
sub view {    # the admin's agent view of a conversation
    my ($c) = @_;
    my $r = $ng->get("$A/conversations/$c->{id}", headers => $admin);
    die "agent view: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}
sub uuid { sprintf('%08x-0000-4000-8000-%012d', $_[0], $run % 1000000000000) }
sub is_422 {
    my ($r, $field, $what) = @_;
    is($r->{status}, 422, "$what: 422");
    is($r->{json}{error}{code}, 'validation', '... code validation');
    like($r->{json}{error}{message} // '', qr/\Q$field\E/, "... naming $field");
}

my $a1  = create_agent('a1');
my $a2  = create_agent('a2');
my $sup = create_agent('sup', role => 'supervisor');
my $shop = create_agent('shop', site => $S2, base => "/shop$C");
my $returns = department('Returns', [ $a2 ]);
my $orders  = department('Orders',  [ $a1 ]);
my $foreign = department('Foreign', [ $shop ], site => $S2);

# --- PATCH: priority, tags, department -------------------------------------------------------

presence($a1, 'online');
my $c1 = customer();
say_($c1, 'my parcel arrived damaged');
is(escalate($c1)->{assigned_agent}{id}, $a1->{id}, 'a chat is assigned to a1');

my $r = patch_conv($a1->{auth}, $c1, { priority => 'high', tags => [ 'Damaged', 'refund', 'damaged', 'REFUND' ] });
is($r->{status}, 200, 'the assigned agent patches priority and tags: 200');
is($r->{json}{conversation}{priority}, 'high', '... priority high');
is_deeply($r->{json}{conversation}{tags}, [ 'damaged', 'refund' ], '... tags lowercased and deduplicated, in order');
is_deeply(view($c1)->{conversation}{tags}, [ 'damaged', 'refund' ], 'the tags are stored');
my $cust = $ng->get("$C/conversation?after=0", headers => $c1->{auth})->{json}{conversation};
is_deeply($cust->{tags}, [ 'damaged', 'refund' ], "the customer's Conversation shows them too");
is_deeply(patch_conv($a1->{auth}, $c1, { tags => [] })->{json}{conversation}{tags}, [], 'tags [] clears them');
is(patch_conv($sup->{auth}, $c1, { priority => 'urgent' })->{status}, 200, 'a supervisor patches it too');
is(patch_conv($admin, $c1, { priority => 'low' })->{json}{conversation}{priority}, 'low', 'and an admin');

my @bad = (
    [ { priority => 'asap' },                      'priority', 'an unknown priority' ],
    [ { priority => 3 },                           'priority', 'a number as priority' ],
    [ { tags => 'refund' },                        'tags',     'tags as a string' ],
    [ { tags => [ 'a' x 33 ] },                    'tags',     'a tag of 33 characters' ],
    [ { tags => [''] },                            'tags',     'an empty tag' ],
    [ { tags => ['two words'] },                   'tags',     'a tag with a space' ],
    [ { tags => ['-x'] },                          'tags',     'a tag starting with -' ],
    [ { tags => [1] },                             'tags',     'a number as a tag' ],
    [ { tags => [ map { "t$_" } 1 .. 11 ] },       'tags',     'eleven tags' ],
    [ { tags => ["r\x{fc}ckgabe"] },               'tags',     'a tag with a letter outside a-z (ASCII only)' ],
    [ { tags => ["\x{c4}rger"] },                  'tags',     'a tag starting with an upper-case non-ASCII letter' ],
    [ { department_id => 'nope' },                 'department_id', 'a department_id that is no UUID' ],
    [ { department_id => uuid(45) },               'department_id', 'an unknown department' ],
    [ { department_id => $foreign },               'department_id', "a department of $S2" ],
);
is_422(patch_conv($a1->{auth}, $c1, $_->[0]), $_->[1], "PATCH with $_->[2]") for @bad;
is_deeply(patch_conv($a1->{auth}, $c1, { tags => [ map { ("t$_", "T$_") } 1 .. 10 ] })->{json}{conversation}{tags},
          [ map { "t$_" } 1 .. 10 ], 'ten tags given twice each are ten tags');
is(patch_conv($a1->{auth}, $c1, {})->{status}, 400, 'an empty PATCH is 400');

is(patch_conv($a2->{auth}, $c1, { priority => 'high' })->{status}, 404,
   "another agent cannot even see a1's chat: 404");
# a chat a2 answered, then transferred to a1, who closed it: a2 still sees it, a1 holds it
presence($a2, 'online');
my $closed_c = customer();
is(escalate($closed_c)->{assigned_agent}{id}, $a2->{id}, 'the next chat goes to a2 (the least loaded)');
is($ng->post("$A/conversations/$closed_c->{id}/messages", headers => $a2->{auth},
             json => { text => 'hi', client_id => uuid(2) })->{status}, 201, 'a2 answers it');
is($ng->post("$A/conversations/$closed_c->{id}/transfer", headers => $a2->{auth},
             json => { agent_id => $a1->{id} })->{status}, 200, 'a2 transfers it to a1');
presence($a2, 'offline');
is($ng->post("$A/conversations/$closed_c->{id}/close", headers => $a1->{auth}, json => {})->{status}, 200,
   'a1 closes it');
is(patch_conv($a1->{auth}, $closed_c, { tags => ['followup'] })->{status}, 200, 'a1 tags the closed chat they handled');
is(patch_conv($a2->{auth}, $closed_c, { tags => ['x'] })->{status}, 403,
   'an agent who wrote in it but is not its agent: 403 like other writes');
my $s2c = customer(base => "/shop$C");
is(patch_conv($admin, $s2c, { priority => 'high' })->{status}, 404, "a conversation of $S2 on the default site: 404");

# the department change requeues
my %ws;
$ws{$_->{tag}} = ChatWS->connect(port => $ng->port, path => "$A/ws", headers => $_->{auth}) for $a1, $a2;
$_->drain(0.3) for values %ws;
presence($a2, 'online');
$_->drain(0.3) for values %ws;
$r = patch_conv($a1->{auth}, $c1, { department_id => $returns });
is($r->{status}, 200, 'a1 moves the chat to Returns: 200');
is($r->{json}{conversation}{department}{id}, $returns, '... its department is Returns');
is($r->{json}{conversation}{assigned_agent}{id}, $a2->{id}, '... and it was requeued there: a2 (a member) has it');
my @msgs = @{ $ng->get("$C/conversation?after=0&limit=200", headers => $c1->{auth})->{json}{messages} };
ok((grep { ($_->{metadata}{event} // '') eq 'requeued' && $_->{content} =~ /back in the queue/ } @msgs),
   'the customer reads the requeue system message');
ok((grep { ($_->{metadata}{event} // '') eq 'assigned' } $msgs[-1]), '... then the joined message');
my @heard2 = $ws{a2}->drain(1);
ok((grep { $_->{type} eq 'conversation.updated' && $_->{conversation_id} eq $c1->{id}
           && ($_->{data}{department}{id} // '') eq $returns } @heard2),
   "a2's socket hears the conversation update");
ok(!(grep { $_->{type} eq 'conversation.updated' && ($_->{conversation_id} // '') eq $s2c->{id} } @heard2),
   '... nothing of another site');

presence($a2, 'offline');
my $c2 = customer();
escalate($c2, $orders);    # a1 (member of Orders) online
$r = patch_conv($sup->{auth}, $c2, { department_id => $returns });
is($r->{json}{conversation}{assigned_agent}, undef, 'moved to Returns with no member online: it waits unassigned');
is($r->{json}{conversation}{queue_position}, 1, '... first in the Returns queue');
my @q = map { $_->{id} } @{ $ng->get("$A/conversations?view=queue", headers => $a1->{auth})->{json}{conversations} };
ok(!(grep { $_ eq $c2->{id} } @q), "a1 (not in Returns) no longer sees it in the queue");
$r = patch_conv($sup->{auth}, $c2, { department_id => undef });
is($r->{json}{conversation}{department}, undef, 'department_id null: the default queue');
is($r->{json}{conversation}{assigned_agent}{id}, $a1->{id}, '... where a1 takes it');

# --- notes --------------------------------------------------------------------------------------

my $cws = ChatWS->connect(port => $ng->port, path => "$C/ws?after=0&token=$c2->{token}");
$cws->drain(0.5);
$_->drain(0.3) for values %ws;
my $cid = uuid(1);
my $n = $ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth},
                  json => { text => 'customer is upset, offer a voucher', client_id => $cid });
is($n->{status}, 201, 'a1 writes a note: 201');
my $note = $n->{json}{note};
is($note->{text}, 'customer is upset, offer a voucher', '... its text');
is($note->{agent}{id}, $a1->{id}, '... its agent');
is($note->{agent}{display_name}, $a1->{name}, '... with the display name');
is($note->{conversation_id}, $c2->{id}, '... its conversation');
is($note->{after_seq}, view($c2)->{conversation}{last_seq}, '... after the last seq');
ok(!exists $note->{seq}, '... no seq');
like($note->{created_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... created_at');
my $again = $ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth},
                      json => { text => 'customer is upset, offer a voucher', client_id => $cid });
is($again->{status}, 201, 'the same client_id again: 201');
is($again->{json}{note}{id}, $note->{id}, '... the same note');
is(ChatTest::sql("SELECT count(*) FROM notes WHERE conversation_id = '$c2->{id}'"), 1, '... stored once');
my @a1heard = $ws{a1}->drain(1);
my @nc = grep { $_->{type} eq 'note.created' } @a1heard;
is(scalar @nc, 1, "a1's socket hears note.created once");
is($nc[0]{conversation_id}, $c2->{id}, '... of the conversation');
is($nc[0]{data}{id}, $note->{id}, '... with the Note');
ok(!(grep { $_->{type} eq 'note.created' } $ws{a2}->drain(0.5)), 'a2 (not their chat) does not hear it');
ok(!(grep { ($_->{type} // '') eq 'note.created' || ($_->{data}{text} // '') =~ /voucher/ } $cws->drain(1)),
   "the customer's socket never hears it");
$cws->close;
my $cg = $ng->get("$C/conversation?after=0&limit=200", headers => $c2->{auth});
unlike($cg->{body}, qr/voucher/, 'GET /conversation has no note');
my $cs = $ng->post("$C/session", headers => $c2->{auth}, json => {});
is($cs->{json}{conversation}{id}, $c2->{id}, 'POST /session finds the same conversation');
unlike($cs->{body}, qr/voucher/, '... and shows no note');
$ng->post("$A/conversations/$c2->{id}/notes", headers => $sup->{auth}, json => { text => 'second' });
my $v = view($c2);
is_deeply([ map { $_->{text} } @{ $v->{notes} } ], [ 'customer is upset, offer a voucher', 'second' ],
          'GET /agent/conversations/{id} lists the notes, oldest first');
is($ng->post("$A/conversations/$c2->{id}/notes", headers => $a2->{auth}, json => { text => 'x' })->{status}, 404,
   "another agent's chat: 404 (they cannot see it)");
is($ng->post("$A/conversations/$closed_c->{id}/notes", headers => $a2->{auth}, json => { text => 'x' })->{status}, 403,
   'a closed chat they wrote in but do not hold: 403');
is($ng->post("/shop$A/conversations/$s2c->{id}/notes", headers => $admin, json => { text => 'x' })->{status}, 401,
   "the default site's token on $S2: 401");
is($ng->post("$A/conversations/$s2c->{id}/notes", headers => $admin, json => { text => 'x' })->{status}, 404,
   "a conversation of $S2: 404");
is_422($ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth}, json => { text => '  ' }), 'text',
       'a blank note');
is_422($ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth}, json => { text => 'x' x 4001 }), 'text',
       'a note over chat_message_max');
is_422($ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth}, json => { text => 5 }), 'text',
       'a number as text');
is_422($ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth},
                 json => { text => 'x', client_id => 'nope' }), 'client_id', 'a client_id that is no UUID');
is($ng->post("$A/conversations/$c2->{id}/notes", headers => $a1->{auth}, json => {})->{status}, 400,
   'no text: 400');

# the view lists the latest 200 notes (oldest first), however many there are
ChatTest::sql("INSERT INTO notes (conversation_id, agent_id, text, after_seq, created_at)
               SELECT '$c2->{id}', '$a1->{id}', 'bulk ' || i, 0, now() + i * interval '1 second'
                 FROM generate_series(1, 205) i");
my $many = view($c2)->{notes};
is(scalar @$many, 200, 'with 207 notes the agent view lists 200');
is_deeply([ $many->[0]{text}, $many->[-1]{text} ], [ 'bulk 6', 'bulk 205' ], '... the latest, oldest first');

# --- canned replies -----------------------------------------------------------------------------

my $cr = $ng->post("$C/admin/canned", headers => $admin,
                   json => { shortcut => "refund-time-$run", title => 'Refund time',
                             text => 'Hi {{customer.name}}, refunds take 5 days. {{agent.name}}' });
is($cr->{status}, 201, 'an admin creates a canned reply: 201');
my $canned = $cr->{json}{canned};
is_deeply([ sort keys %$canned ], [qw(id shortcut text title)], '... Canned has id, shortcut, title, text');
is($canned->{text}, 'Hi {{customer.name}}, refunds take 5 days. {{agent.name}}', '... placeholders stored as is');
my $dup = $ng->post("$C/admin/canned", headers => $admin, json => { shortcut => "refund-time-$run", title => 't', text => 't' });
is($dup->{status}, 409, 'a taken shortcut: 409');
is($dup->{json}{error}{code}, 'conflict', '... code conflict');
my $shop_admin = create_agent('shopadmin', role => 'admin', site => $S2, base => "/shop$C");
is($ng->post("/shop$C/admin/canned", headers => $shop_admin->{auth},
             json => { shortcut => "refund-time-$run", title => 't', text => 't' })->{status}, 201,
   "the same shortcut on $S2: 201 (per site)");
for my $case ([ { title => 't', text => 't' }, 400, 'no shortcut' ],
              [ { shortcut => 'x', text => 't' }, 400, 'no title' ]) {
    is($ng->post("$C/admin/canned", headers => $admin, json => $case->[0])->{status}, $case->[1], "$case->[2]: $case->[1]");
}
for my $case ([ { shortcut => 'Refund', title => 't', text => 't' }, 'shortcut', 'an upper-case shortcut' ],
              [ { shortcut => '-x', title => 't', text => 't' }, 'shortcut', 'a shortcut starting with -' ],
              [ { shortcut => 'a' x 65, title => 't', text => 't' }, 'shortcut', 'a shortcut of 65 characters' ],
              [ { shortcut => 'ok', title => ' ', text => 't' }, 'title', 'a blank title' ],
              [ { shortcut => 'ok', title => 'x' x 201, text => 't' }, 'title', 'a title of 201 characters' ],
              [ { shortcut => 'ok', title => 't', text => 'x' x 10001 }, 'text', 'a text of 10001 characters' ],
              [ { shortcut => 'ok', title => 't', text => [] }, 'text', 'a list as text' ]) {
    is_422($ng->post("$C/admin/canned", headers => $admin, json => $case->[0]), $case->[1], "create with $case->[2]");
}
is($ng->post("$C/admin/canned", headers => $sup->{auth}, json => { shortcut => 'x', title => 't', text => 't' })->{status},
   403, 'a supervisor may not create one: 403');
is($ng->get("$C/admin/canned", headers => $a1->{auth})->{status}, 403, 'an agent may not use the admin list: 403');
my $other = $ng->post("$C/admin/canned", headers => $admin,
                      json => { shortcut => "other-$run", title => 'Other', text => 'o' })->{json}{canned};
my $p = $ng->patch("$C/admin/canned/$canned->{id}", headers => $admin, json => { title => 'Refunds' });
is($p->{status}, 200, 'PATCH a canned reply: 200');
is($p->{json}{canned}{title}, 'Refunds', '... the new title');
is($p->{json}{canned}{shortcut}, "refund-time-$run", '... the rest kept');
is($ng->patch("$C/admin/canned/$other->{id}", headers => $admin, json => { shortcut => "refund-time-$run" })->{status},
   409, 'PATCH to a taken shortcut: 409');
is_422($ng->patch("$C/admin/canned/$other->{id}", headers => $admin, json => { text => '' }), 'text', 'PATCH with an empty text');
is($ng->patch("/shop$C/admin/canned/$canned->{id}", headers => $shop_admin->{auth}, json => { title => 'x' })->{status},
   404, "another site's canned reply: 404");
is($ng->delete("/shop$C/admin/canned/$canned->{id}", headers => $shop_admin->{auth})->{status}, 404,
   "... nor deleted from $S2: 404");
my $list = $ng->get("$A/canned", headers => $a1->{auth});
is($list->{status}, 200, 'any agent lists the canned replies: 200');
my @mine = grep { $_->{shortcut} =~ /-\Q$run\E$/ } @{ $list->{json}{canned} };
is_deeply([ map { $_->{shortcut} } @mine ], [ "other-$run", "refund-time-$run" ], '... of the site, by shortcut');
is_deeply([ map { $_->{shortcut} } grep { $_->{shortcut} =~ /-\Q$run\E$/ }
            @{ $ng->get("/shop$A/canned", headers => $shop->{auth})->{json}{canned} } ],
          [ "refund-time-$run" ], "an agent of $S2 lists only the canned replies of $S2");
is_deeply($ng->get("$C/admin/canned", headers => $admin)->{json}{canned}, $list->{json}{canned},
          'the admin list is the same');
is($ng->delete("$C/admin/canned/$other->{id}", headers => $admin)->{status}, 204, 'DELETE: 204');
is($ng->delete("$C/admin/canned/$other->{id}", headers => $admin)->{status}, 404, '... then 404');

# --- view filters -------------------------------------------------------------------------------

presence($a1, 'offline');
my $word = "zebra$run";
my $f1 = customer();
say_($f1, "where is my $word order");
escalate($f1, $returns);
my $f2 = customer();
say_($f2, 'nothing to see');
escalate($f2);
patch_conv($admin, $f1, { tags => ['vip'], priority => 'urgent' });
patch_conv($admin, $f2, { tags => ['vip', 'late'] });
sub ids {
    my ($q, $who) = @_;
    my $r = $ng->get("$A/conversations?$q", headers => $who // $admin);
    die "view $q: $r->{status} $r->{body}" unless $r->{status} == 200;
    return [ grep { $_ eq $f1->{id} || $_ eq $f2->{id} } map { $_->{id} } @{ $r->{json}{conversations} } ];
}
is_deeply(ids('view=queue&tag=vip'), [ $f1->{id}, $f2->{id} ], 'tag=vip: both queued chats');
is_deeply(ids('view=queue&tag=LATE'), [ $f2->{id} ], 'tag=LATE: the one tagged late');
is_deeply(ids("view=queue&department_id=$returns"), [ $f1->{id} ], 'department_id=: the Returns chat');
is_deeply(ids('view=queue&priority=urgent'), [ $f1->{id} ], 'priority=urgent');
is_deeply(ids("view=queue&q=$word"), [ $f1->{id} ], 'q= finds the message text');
is_deeply(ids("view=all&q=" . uc($word)), [ $f1->{id} ], '... any case, in view all');
is_deeply(ids("view=all&q=$word&tag=late"), [], 'filters combine');
# the bot's replies are searched through bot_texts (029_post_write_path): f2's question had no
# FAQ answer, so the bot's fallback ("... You can rephrase, ...") is in f2 and f1 has none
is(ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$f2->{id}'
                   AND sender_type = 'bot' AND metadata ? 'fallback' AND content LIKE '%rephrase%'"),
   1, "f2's bot fallback reply says rephrase");
is(ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$f1->{id}'
                   AND content LIKE '%rephrase%'"), 0, '... and no message of f1 does');
is_deeply(ids('view=queue&q=rephrase'), [ $f2->{id} ], "q= finds the bot's reply text");
is_deeply(ids('view=all&q=REPHRASE'), [ $f2->{id} ], '... any case, in view all');
is(ChatTest::sql("SELECT count(*) FROM messages m WHERE m.conversation_id IN ('$f1->{id}', '$f2->{id}')
                   AND m.sender_type = 'bot' AND NOT EXISTS (SELECT 1 FROM bot_texts b
                   WHERE b.hash = md5(m.content)::uuid AND b.content = m.content)"),
   0, "every bot message's text (greeting, FAQ answer, fallback) is in bot_texts");
is_deeply(ids('view=queue&tag=vip&limit=1', $admin), [ $f1->{id} ], 'with limit=1 the first page holds one');
my $pg = $ng->get("$A/conversations?view=queue&tag=vip&limit=1", headers => $admin)->{json};
my $pg2 = $ng->get("$A/conversations?view=queue&tag=vip&limit=1&cursor=$pg->{next_cursor}", headers => $admin)->{json};
ok((grep { $_->{id} eq $f2->{id} } @{ $pg2->{conversations} }), '... the next page goes on with the filter');
is_422($ng->get("$A/conversations?view=queue&tag=-x", headers => $admin), 'tag', 'tag=-x');
is_422($ng->get("$A/conversations?view=queue&tag=r%C3%BCckgabe", headers => $admin), 'tag', 'tag= with a non-ASCII letter');
is_422($ng->get("$A/conversations?view=queue&department_id=nope", headers => $admin), 'department_id', 'department_id=nope');
is_422($ng->get("$A/conversations?view=queue&priority=asap", headers => $admin), 'priority', 'priority=asap');
is_422($ng->get("$A/conversations?view=queue&q=", headers => $admin), 'q', 'an empty q');
is_422($ng->get("$A/conversations?view=queue&q=" . ('a' x 201), headers => $admin), 'q', 'a q of 201 characters');
is_422($ng->get("$A/conversations?view=queue&q=%21%21", headers => $admin), 'q', 'a q without a word');
is_deeply(ids("view=queue&department_id=$returns", $a1->{auth}), [], "a1 (not in Returns) finds nothing of its queue");
is(ChatTest::sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'messages_content_fts_idx'
                   AND indexdef LIKE '%gin%to_tsvector%'"), 1, 'message text has its GIN full-text index');

# q= of a frequent word: more matching messages than chat_agent_conversations searches first
# (the bot's fallback and a customer's word in every message of another site's 10 000 chats,
# 20 000 messages, ANALYZEd), so the view is walked in its order and each chat tested: the same
# chats, in the same order and pages, as a rare word's; another site's chats never answer here.
my $far = "t45-far-$run";
ChatTest::sql("WITH c AS (INSERT INTO conversations (session_id, site, status, closed_at, last_seq)
                          SELECT '$far-' || i, '$far', 'closed', now(), 2 FROM generate_series(1, 10000) i
                          RETURNING id, site, updated_at),
                    r AS (INSERT INTO conversation_minutes (id, site, updated_minute)
                          SELECT id, site, chat_minute(updated_at) FROM c)
               INSERT INTO messages (conversation_id, seq, sender_type, content)
               SELECT c.id, s, CASE WHEN s % 2 = 0 THEN 'bot' ELSE 'customer' END,
                      CASE WHEN s % 2 = 0 THEN f.content ELSE 'often$run and elsewhere$run' END
                 FROM c, generate_series(1, 2) s,
                      (SELECT content FROM messages WHERE conversation_id = '$f2->{id}'
                          AND sender_type = 'bot' AND metadata ? 'fallback') f");
ChatTest::sql('ANALYZE messages');
is(ChatTest::sql("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
                   WHERE c.site = '$far' AND m.content LIKE '%rephrase%'"), 10000,
   "another site's chats hold 10 000 bot fallback replies");
cmp_ok(ChatTest::sql("SELECT chat_search_estimate('often$run', '{}')"), '>', 5000,
       "... and 10 000 messages a word, which ANALYZE's statistics see as frequent (the walk)");
say_($f1, "often$run and elsewhere$run");
say_($f2, "often$run");
is_deeply(ids('view=queue&q=rephrase'), [ $f2->{id} ], "q=rephrase, in 10 000 bot replies of another site: f2 alone");
is_deeply(ids('view=all&q=rephrase'), [ $f2->{id} ], '... in view all');
is_deeply(ids("view=queue&q=often$run"), [ $f1->{id}, $f2->{id} ], 'a word in 10 000 messages: both queued chats, oldest first');
my $often = $ng->get("$A/conversations?view=all&q=often$run", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $often->{conversations} } ], [ $f2->{id}, $f1->{id} ],
          '... view all: exactly the two chats of this site, newest first');
my $p1 = $ng->get("$A/conversations?view=all&q=often$run&limit=1", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $p1->{conversations} } ], [ $f2->{id} ], '... limit=1: the first page holds the newest');
my $p2 = $ng->get("$A/conversations?view=all&q=often$run&limit=1&cursor=$p1->{next_cursor}", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $p2->{conversations} } ], [ $f1->{id} ], '... the next page the other');
is($p2->{next_cursor}, undef, '... and no page after it');
is_deeply(ids("view=all&q=elsewhere$run"), [ $f1->{id} ], "a word frequent on another site: this site's one chat");
# A walk that goes on past its first candidates, from their last one's key: 20 chats of this site
# without the word between f2 (posted to again: the newest) and f1, which are 1st and 22nd in view
# all. limit=1: the first 8 candidates (4 pages) hold f2 alone, so the walk goes on to 24 (at least
# twice as far; as far as 1 match in 8 fills a page of 1 with half again to spare: 1.5 x 8 x 2 / 1)
# and finds f1; the next page, from f2's key, walks the 20 and on. limit=2: 12 candidates, then on
# to 54 (1.5 x 12 x 3 / 1). The statistics allow a walk that far (walk_max, the estimate / 8 /
# messages per conversation, >= 54: the other site's 10 000 chats of 2 messages keep that ratio
# low), so the walk answers, not the full search: each chat once.
my $site = ChatTest::sql("SELECT site FROM conversations WHERE id = '$f1->{id}'");
ChatTest::sql("WITH c AS (INSERT INTO conversations (session_id, site, status, closed_at, last_seq)
                          SELECT '$far-near-' || i, '$site', 'closed', now(), 0 FROM generate_series(1, 20) i
                          RETURNING id, site, updated_at)
               INSERT INTO conversation_minutes (id, site, updated_minute)
               SELECT id, site, chat_minute(updated_at) FROM c");
say_($f2, "often$run again");
ChatTest::sql('ANALYZE conversations');
cmp_ok(ChatTest::sql("SELECT chat_search_estimate('often$run', '{}') / 8
                             / (SELECT greatest(m.reltuples, 1) / greatest(c.reltuples, 1) FROM pg_class m, pg_class c
                                 WHERE m.oid = 'messages'::regclass AND c.oid = 'conversations'::regclass)"), '>=', 54,
       '... the statistics allow a walk of 54 candidates');
my $w1 = $ng->get("$A/conversations?view=all&q=often$run&limit=1", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $w1->{conversations} } ], [ $f2->{id} ],
          '20 chats without the word between the two, limit=1: the newest');
my $w2 = $ng->get("$A/conversations?view=all&q=often$run&limit=1&cursor=$w1->{next_cursor}", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $w2->{conversations} } ], [ $f1->{id} ], '... the next page the other');
is($w2->{next_cursor}, undef, '... and no page after it');
my $w3 = $ng->get("$A/conversations?view=all&q=often$run&limit=2", headers => $admin)->{json};
is_deeply([ map { $_->{id} } @{ $w3->{conversations} } ], [ $f2->{id}, $f1->{id} ], '... limit=2: both, once each, newest first');
is($w3->{next_cursor}, undef, '... and no page after them');
ChatTest::sql("DELETE FROM conversations WHERE site = '$far' OR session_id LIKE '$far-near-%'");

# --- department changes racing assignment ------------------------------------------------------
# 16 queued chats in two departments with an overlapping member; at once, every chat is moved
# to the other department while three agents come online: members only, nobody over capacity,
# every slot filled (PATCH takes the assign lock before the row, like every assignment).

reset_state();
my @b = map { create_agent("b$_", max => 2) } 1 .. 3;
my $dx = department('DX', [ $b[0], $b[1] ]);
my $dy = department('DY', [ $b[1], $b[2] ]);
my %member = ($dx => { map { $_->{id} => 1 } $b[0], $b[1] }, $dy => { map { $_->{id} => 1 } $b[1], $b[2] });
my @race = map { my $c = customer(); escalate($c, $_ % 2 ? $dx : $dy); +{ %$c, to => $_ % 2 ? $dy : $dx } } 1 .. 16;
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $start = Time::HiRes::time() + 1;
my @pids;
for my $i (0 .. $#race + @b) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $wait = $start - Time::HiRes::time();
        Time::HiRes::sleep($wait) if $wait > 0;
        my $st = eval {
            $i <= $#race
                ? patch_conv($admin, $race[$i], { department_id => $race[$i]{to} })->{status}
                : $ng->post("$A/presence", headers => $b[$i - @race]{auth}, json => { presence => 'online' })->{status};
        } // 'died';
        if (open my $fh, '>', "$dir/$i") { print $fh $st; close $fh }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
my @st = map { my $v = 'none'; if (open my $fh, '<', "$dir/$_") { $v = <$fh> // 'none' } $v } 0 .. $#race + @b;
is(scalar(grep { $_ eq '200' } @st), 19, '16 department changes and 3 agents coming online at once: all 200')
    or diag("statuses: @st");
my (%load, $wrong, $moved);
for my $c (@race) {
    my $cv = view($c)->{conversation};
    $moved++ if ($cv->{department}{id} // '') eq $c->{to};
    next unless $cv->{assigned_agent};
    $load{ $cv->{assigned_agent}{id} }++;
    $wrong++ unless $member{ $c->{to} }{ $cv->{assigned_agent}{id} };
}
is($moved, 16, 'every chat is in the department it was moved to');
ok(!$wrong, 'each went only to a member of its new department') or diag("$wrong to non-members");
is_deeply([ sort values %load ], [ 2, 2, 2 ], 'each agent holds exactly their capacity (every slot filled, none over)')
    or diag(explain \%load);

$_->close for values %ws;
reset_state();
$ng->stop;
done_testing;
