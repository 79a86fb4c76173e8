# After close, bot feedback, reports (API.md "Operators"): the customer rates a closed
# conversation once (1..5, an optional comment; 422 naming the field, 409 before close or
# again) and agents hear it; "did this answer your question?" once per bot answer of the
# session's own conversations (404 otherwise, 409 again); the questions the bot could not
# answer are counted per site, normalised; the reports of a site add it all up.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use ChatWS;
use POSIX ();

my $root = ChatTest::repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

ChatTest::sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline'");

my $run = sprintf('%d%d', $$, time % 100000);
my $SA = "t46a-$run";    # the sites of this file alone: their numbers are exactly this file's
my $SB = "t46b-$run";
my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /a/chat/api/ { chat_api; chat_site $SA; }
        location /b/chat/api/ { chat_api; chat_site $SB; }
CONF

my $D = '/chat/api/v1';      # the default site (the seeded FAQ)
my $A = '/a/chat/api/v1';
my $B = '/b/chat/api/v1';
sub chatctl { ChatTest::chatctl(@_) }

# An agent of one site with a role, logged in: [bearer headers, agent].
sub staff {
    my ($base, $site, $role) = @_;
    my $u = "t46.$role.$site";
    my ($rc, $out) = chatctl("Pass-$u\n", 'agent', 'add', $u, '--role', $role, '--site', $site, '--password-stdin');
    is($rc, 0, "chatctl adds the $role of $site") or diag $out;
    my $l = $ng->post("$base/agent/login", json => { username => $u, password => "Pass-$u" });
    is($l->{status}, 200, "... who logs in there") or BAIL_OUT("no $role");
    return (bearer($l->{json}{token}), $l->{json}{agent});
}

my ($adminA, $adminA_agent) = staff($A, $SA, 'admin');
my ($superA) = staff($A, $SA, 'supervisor');
my ($agentA, $agentA_agent) = staff($A, $SA, 'agent');
my ($adminB) = staff($B, $SB, 'admin');

# a customer of a site: [bearer headers, session answer]
sub customer {
    my ($base) = @_;
    my $s = $ng->post("$base/session", json => {});
    is($s->{status}, 200, "a customer opens a session on $base");
    return (bearer($s->{json}{token}), $s->{json});
}

# escalate, claimed and closed by $who of that site: the closed Conversation
sub close_chat {
    my ($base, $cust, $who, $conv) = @_;
    is($ng->post("$base/escalate", headers => $cust, json => {})->{status}, 200, '... asks for a person');
    is($ng->post("$base/agent/conversations/$conv/claim", headers => $who)->{status}, 200, '... taken');
    my $c = $ng->post("$base/agent/conversations/$conv/close", headers => $who, json => {});
    is($c->{status}, 200, '... and closed');
    return $c->{json}{conversation};
}

# ===================================================================================
# 1. POST /rating
# ===================================================================================

my ($c1, $s1) = customer($A);
my $conv1 = $s1->{conversation}{id};
is($s1->{conversation}{rating}, undef, 'a new conversation has no rating (null)');
ok(exists $s1->{conversation}{rating}, '... the field is there');

my $early = $ng->post("$A/rating", headers => $c1, json => { score => 5 });
is($early->{status}, 409, 'rating an open conversation: 409');
is($early->{json}{error}{code}, 'invalid_state', '... invalid_state');
is($ng->post("$A/rating", json => { score => 5 })->{status}, 401, 'rating without a session: 401');

close_chat($A, $c1, $adminA, $conv1);

for my $case (
    [{ score => 0 },                            'score'],
    [{ score => 6 },                            'score'],
    [{ score => -1 },                           'score'],
    [{ score => 3.5 },                          'score'],
    [{ score => '5' },                          'score'],
    [{ score => undef },                        'score'],
    [{},                                        'score'],
    [{ score => 4, comment => 'x' x 1001 },     'comment'],
    [{ score => 4, comment => 42 },             'comment'],
    [{ score => 4, comment => ['a'] },          'comment'],
) {
    my ($body, $field) = @$case;
    my $r = $ng->post("$A/rating", headers => $c1, json => $body);
    is($r->{status}, 422, 'rating refuses ' . JSON::PP->new->canonical->encode($body) =~ s/x{20,}/x.../r . ': 422');
    is($r->{json}{error}{code}, 'validation', '... validation');
    like($r->{json}{error}{message} // '', qr/\b\Q$field\E\b/, "... naming $field");
}
my $bad_utf8 = $ng->post("$A/rating", headers => { %$c1, 'content-type' => 'application/json' },
                         body => qq({"score": 4, "comment": "bad \xff\xfe"}));
is($bad_utf8->{status}, 422, 'a comment that is not UTF-8: 422');
is($ng->get("$A/conversation?after=0", headers => $c1)->{json}{conversation}{rating}, undef,
   'nothing refused was stored');

# agents hear the rating as a conversation update
my $ws = ChatWS->connect(port => $ng->port, path => "$A/agent/ws", headers => $adminA);
ok($ws, "the admin's dashboard socket is open");
$ws->drain(0.5);

my $comment = "Quick and kind \x{2014} thanks! \x{1F600}";
my $rated = $ng->post("$A/rating", headers => $c1, json => { score => 4, comment => $comment });
is($rated->{status}, 200, 'a valid rating: 200') or diag explain $rated->{json};
is($rated->{json}{conversation}{id}, $conv1, '... answering the conversation');
is_deeply($rated->{json}{conversation}{rating}, { score => 4, comment => $comment }, '... with its rating');
is($rated->{json}{conversation}{status}, 'closed', '... still closed');
my @heard = grep { $_->{type} eq 'conversation.updated' && ($_->{conversation_id} // '') eq $conv1 } $ws->drain(2);
ok(@heard && ($heard[-1]{data}{rating}{score} // 0) == 4, 'the dashboard hears the rating at once');
$ws->close;

my $again = $ng->post("$A/rating", headers => $c1, json => { score => 1 });
is($again->{status}, 409, 'a second rating: 409');
is($again->{json}{error}{code}, 'invalid_state', '... invalid_state');
is_deeply($ng->get("$A/conversation?after=0", headers => $c1)->{json}{conversation}{rating},
          { score => 4, comment => $comment }, 'the customer reads the first rating back (the cache was dropped)');
is_deeply($ng->get("$A/agent/conversations/$conv1", headers => $adminA)->{json}{conversation}{rating},
          { score => 4, comment => $comment }, 'the agent view shows it');

# an empty comment is no comment
my ($c2, $s2) = customer($A);
close_chat($A, $c2, $adminA, $s2->{conversation}{id});
my $r2 = $ng->post("$A/rating", headers => $c2, json => { score => 2, comment => '  ' });
is($r2->{status}, 200, 'a rating with a blank comment: 200');
is_deeply($r2->{json}{conversation}{rating}, { score => 2, comment => undef }, '... stored without one');

# a new conversation of the same customer is open again: nothing to rate
is($ng->post("$A/session", headers => $c2, json => {})->{status}, 200, 'the customer comes back (a new conversation)');
is($ng->post("$A/rating", headers => $c2, json => { score => 5 })->{status}, 409, '... which cannot be rated yet: 409');

# another site's token: 401
is($ng->post("$B/rating", headers => $c1, json => { score => 5 })->{status}, 401, "a token of $SA on $SB: 401");

# ===================================================================================
# 2. POST /feedback
# ===================================================================================

my ($d1, $ds1) = customer($D);
my $greeting = $ds1->{messages}[0];
my $q = $ng->post("$D/messages", headers => $d1, json => { faq => 'shipping-time' });
is($q->{status}, 201, 'the customer picks an FAQ entry') or diag explain $q->{json};
my ($answer) = grep { $_->{sender_type} eq 'bot' } @{ $q->{json}{messages} };
is($answer && $answer->{metadata}{faq}, 'shipping-time', 'the bot answer records its entry');
my $fb = sub { my ($h, $body) = @_; $ng->post("$D/feedback", headers => $h, json => $body) };

for my $case (
    [{ helpful => JSON::PP::true },                                     'message_id'],
    [{ message_id => 'nope', helpful => JSON::PP::true },               'message_id'],
    [{ message_id => 42, helpful => JSON::PP::true },                   'message_id'],
    [{ message_id => $answer->{id} },                                   'helpful'],
    [{ message_id => $answer->{id}, helpful => 'yes' },                 'helpful'],
    [{ message_id => $answer->{id}, helpful => 1 },                     'helpful'],
    [{ message_id => $answer->{id}, helpful => undef },                 'helpful'],
) {
    my ($body, $field) = @$case;
    my $r = $fb->($d1, $body);
    is($r->{status}, 422, 'feedback refuses ' . JSON::PP->new->canonical->allow_nonref->encode($body) . ': 422');
    like($r->{json}{error}{message} // '', qr/\b\Q$field\E\b/, "... naming $field");
}
is($fb->($d1, { message_id => $greeting->{id}, helpful => JSON::PP::true })->{status}, 404,
   'feedback on the greeting (not an answer): 404');
my ($own) = grep { $_->{sender_type} eq 'customer' } @{ $q->{json}{messages} };
is($fb->($d1, { message_id => $own->{id}, helpful => JSON::PP::true })->{status}, 404,
   "feedback on the customer's own message: 404");
is($fb->($d1, { message_id => '00000000-0000-4000-8000-000000000046', helpful => JSON::PP::true })->{status}, 404,
   'feedback on no message: 404');
my ($d2) = customer($D);
my $other = $fb->($d2, { message_id => $answer->{id}, helpful => JSON::PP::false });
is($other->{status}, 404, "feedback on another session's bot answer: 404");
is($other->{json}{error}{code}, 'not_found', '... not_found');
is($ng->post("$A/feedback", headers => $d1, json => { message_id => $answer->{id}, helpful => JSON::PP::true })->{status},
   401, "a default token on $SA: 401");

my $yes = $fb->($d1, { message_id => $answer->{id}, helpful => JSON::PP::true });
is($yes->{status}, 204, 'helpful: 204');
is($yes->{body} // '', '', '... no body');
my $twice = $fb->($d1, { message_id => $answer->{id}, helpful => JSON::PP::false });
is($twice->{status}, 409, 'a second feedback on the same answer: 409');
is($twice->{json}{error}{code}, 'invalid_state', '... invalid_state');
is(ChatTest::sql("SELECT faq_slug || ':' || helpful FROM bot_feedback WHERE message_id = '$answer->{id}'"),
   'shipping-time:true', 'the first one is kept, with the entry that answered');

# not helpful: 204 and nothing else changes (the widget offers a person itself)
my $q2 = $ng->post("$D/messages", headers => $d1, json => { faq => 'shipping-cost' });
my ($answer2) = grep { $_->{sender_type} eq 'bot' } @{ $q2->{json}{messages} };
my $before = $ng->get("$D/conversation?after=0", headers => $d1)->{json}{conversation};
is($fb->($d1, { message_id => $answer2->{id}, helpful => JSON::PP::false })->{status}, 204, 'not helpful: 204');
my $after = $ng->get("$D/conversation?after=0", headers => $d1)->{json}{conversation};
is_deeply([@$after{qw(status last_seq version)}], [@$before{qw(status last_seq version)}],
          '... the conversation is unchanged (no message, still automated)');

# ===================================================================================
# 3. unmatched questions, counted per site, normalised
# ===================================================================================

my ($u1) = customer($A);
my ($u2) = customer($A);
my ($ub) = customer($B);
for my $t ("  Where is   my PARCEL?? ", "where is my parcel??", "WHERE\tIS MY\nparcel??") {
    my $p = $ng->post("$A/messages", headers => $u1, json => { text => $t });
    is($p->{status}, 201, 'an unmatched question on site A');
    ok((grep { $_->{metadata}{fallback} } @{ $p->{json}{messages} }), '... answered with the fallback');
}
$ng->post("$A/messages", headers => $u2, json => { text => 'Do you sell gift cards?' });
$ng->post("$B/messages", headers => $ub, json => { text => 'where is my parcel??' });
my $long = 'ab ' x 150;
$ng->post("$A/messages", headers => $u2, json => { text => $long });
my $counts = ChatTest::sql("SELECT string_agg(text || '=' || n, '|' ORDER BY n DESC, text)
                              FROM (SELECT text, sum(count) AS n FROM unmatched_questions
                                     WHERE site = '$SA' GROUP BY text) u");
my $long_norm = substr('ab ' x 150, 0, 200) =~ s/\s+$//r;
is($counts, join('|', 'where is my parcel??=3', "$long_norm=1", 'do you sell gift cards?=1'),
   'site A counts its questions, trimmed, lower case, white space collapsed, at most 200 characters');
is(ChatTest::sql("SELECT string_agg(text || '=' || count, '|') FROM unmatched_questions WHERE site = '$SB'"),
   'where is my parcel??=1', 'site B its own');
is($ng->post("$A/escalate", headers => $u2, json => {})->{status}, 200, 'a customer of A asks for a person');
$ng->post("$A/messages", headers => $u2, json => { text => 'Do you sell gift cards?' });
is(ChatTest::sql("SELECT sum(count) FROM unmatched_questions WHERE site = '$SA' AND text = 'do you sell gift cards?'"), 1,
   '... what they write to agents is no unmatched question');

# The posts appended their questions to unmatched_pending; the workers fold them into the
# counts (once a second, off the post path): the same numbers, none pending.
ok(wait_until(sub { ChatTest::sql("SELECT count(*) FROM unmatched_pending WHERE site IN ('$SA', '$SB')") == 0 }),
   'the workers fold the pending questions into the counts');
is(ChatTest::sql("SELECT string_agg(text || '=' || n, '|' ORDER BY n DESC, text)
                    FROM (SELECT text, sum(count) AS n FROM unmatched_counts
                           WHERE site = '$SA' GROUP BY text) u"),
   join('|', 'where is my parcel??=3', "$long_norm=1", 'do you sell gift cards?=1'),
   '... which hold what was counted, once');
is(ChatTest::sql("SELECT string_agg(text || '=' || count, '|') FROM unmatched_questions WHERE site = '$SB'"),
   'where is my parcel??=1', '... and the view answers as before the fold');

# ===================================================================================
# 4. GET /agent/reports
# ===================================================================================

my $today = ChatTest::sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
my $rep = sub { my ($base, $h, $q) = @_; $ng->get("$base/agent/reports?$q", headers => $h) };

# who may read them
is($rep->($A, undef, "from=$today&to=$today")->{status}, 401, 'reports without a token: 401');
my $forbidden = $rep->($A, $agentA, "from=$today&to=$today");
is($forbidden->{status}, 403, 'an agent reads no reports: 403');
is($forbidden->{json}{error}{code}, 'forbidden', '... forbidden');
is($rep->($A, $superA, "from=$today&to=$today")->{status}, 200, 'a supervisor does: 200');

# the range, validated, naming the field
for my $case (
    ['to=2026-01-12',                                         'from'],
    ['from=&to=2026-01-12',                                   'from'],
    ['from=yesterday&to=2026-01-12',                          'from'],
    ['from=2026-01-10',                                       'to'],
    ['from=2026-01-10&to=2026-02-30',                         'to'],
    ['from=2026-01-10&to=2026-01-12T10:00:00',                'to'],
    ['from=2026-01-12&to=2026-01-10',                         'to must be after from'],
    ['from=2026-01-10T10:00:00Z&to=2026-01-10T10:00:00Z',     'to must be after from'],
    ['from=2025-01-01&to=2026-01-02',                         '366 days'],
    ['from=2026-01-10&to=2026-01-12&department_id=returns',   'department_id'],
    ['from=2026-01-10&to=2026-01-12&format=xlsx',             'format'],
) {
    my ($q, $field) = @$case;
    my $r = $rep->($A, $adminA, $q);
    is($r->{status}, 422, "reports refuse ?$q: 422");
    like($r->{json}{error}{message} // '', qr/\Q$field\E/, "... naming $field");
}

# A known data set on site A, 2026-01-10 .. 2026-01-12 (and around it), written directly.
my $dept = ChatTest::department('Returns', site => $SA);
my $agA = $agentA_agent->{id};
my $adA = $adminA_agent->{id};
sub conv {
    my (%c) = @_;
    my @cols = ('session_id', 'site', keys %c);
    my @vals = ("'t46-$run'", "'$SA'", map { defined $c{$_} ? "'$c{$_}'" : 'NULL' } keys %c);
    ChatTest::sql('INSERT INTO conversations (' . join(', ', @cols) . ') VALUES (' . join(', ', @vals) . ') RETURNING id');
}
my $j = '2026-01-';
my $k1 = conv(status => 'closed', created_at => "${j}10 08:00:00+00", closed_at => "${j}10 08:05:00+00");
my $k2 = conv(status => 'closed', created_at => "${j}10 09:00:00+00", requested_agent_at => "${j}10 09:01:00+00",
              first_response_at => "${j}10 09:01:10+00", closed_at => "${j}10 09:11:00+00",
              assigned_agent_id => $agA, rating_score => 5, rated_at => "${j}10 09:12:00+00");
my $k3 = conv(status => 'closed', created_at => "${j}11 10:00:00+00", requested_agent_at => "${j}11 10:00:00+00",
              first_response_at => "${j}11 10:00:30+00", closed_at => "${j}11 10:20:00+00",
              assigned_agent_id => $agA, rating_score => 3, department_id => $dept);
my $k4 = conv(status => 'closed', created_at => "${j}11 11:00:00+00", requested_agent_at => "${j}11 11:00:00+00",
              first_response_at => "${j}11 11:01:00+00", closed_at => "${j}11 11:30:00+00",
              assigned_agent_id => $adA, department_id => $dept);
my $k5 = conv(status => 'agent', created_at => "${j}12 12:00:00+00", requested_agent_at => "${j}12 12:00:00+00",
              queued_at => "${j}12 12:00:00+00", offline => 'true');
my $k6 = conv(status => 'closed', created_at => "${j}09 23:59:59+00", closed_at => "${j}10 00:10:00+00",
              rating_score => 1, requested_agent_at => "${j}09 23:59:59+00", assigned_agent_id => $agA);
my $k7 = conv(status => 'closed', created_at => "${j}13 00:00:00+00", closed_at => "${j}13 00:10:00+00");
# bot answers (two of returns and one of shipping-time in range, one outside) and feedback;
# read, gapless and counted in last_seq, as every conversation of the database (t/16)
sub bot {
    my ($conv, $seq, $slug) = @_;
    my $id = ChatTest::sql("INSERT INTO messages (conversation_id, seq, sender_type, content, metadata, created_at, read_at)
                   VALUES ('$conv', $seq, 'bot', 'answer', '{\"faq\": \"$slug\", \"in_reply_to\": \"x\"}',
                           '${j}10 08:01:00+00', '${j}10 08:01:00+00') RETURNING id");
    ChatTest::sql("UPDATE conversations SET last_seq = $seq WHERE id = '$conv'");
    return $id;
}
my $m1 = bot($k1, 1, 'returns');
my $m2 = bot($k1, 2, 'returns');
bot($k2, 1, 'shipping-time');
my $m4 = bot($k6, 1, 'returns');
for ([$m1, $k1, 'true'], [$m2, $k1, 'false'], [$m4, $k6, 'false']) {
    ChatTest::sql("INSERT INTO bot_feedback (message_id, conversation_id, site, faq_slug, helpful)
                   VALUES ('$_->[0]', '$_->[1]', '$SA', 'returns', $_->[2])");
}
ChatTest::sql("INSERT INTO unmatched_questions (site, day, text, count) VALUES
               ('$SA', '${j}10', 'a?', 2), ('$SA', '${j}12', 'a?', 1), ('$SA', '${j}12', 'b?', 5),
               ('$SA', '${j}13', 'c?', 9), ('$SA', '${j}09', 'd?', 9), ('$SB', '${j}11', 'e?', 1)");

my $r = $rep->($A, $adminA, "from=${j}10&to=${j}12");
is($r->{status}, 200, 'the report of 2026-01-10 .. 2026-01-12: 200') or diag explain $r->{json};
my $want = {
    conversations => 5, bot_only => 1, escalated => 4, offline => 1,
    first_response_s => { p50 => 30, p90 => 54 },
    resolution_s => { p50 => 1200, p90 => 1680 },
    csat => { avg => 4, count => 2 },
    by_agent => [
        { agent => { id => $agA, display_name => $agentA_agent->{display_name} }, handled => 2,
          first_response_s => { p50 => 20 }, csat => { avg => 4, count => 2 } },
        { agent => { id => $adA, display_name => $adminA_agent->{display_name} }, handled => 1,
          first_response_s => { p50 => 60 }, csat => { avg => undef, count => 0 } },
    ],
    by_day => [
        { date => "${j}10", conversations => 2, escalated => 1 },
        { date => "${j}11", conversations => 2, escalated => 2 },
        { date => "${j}12", conversations => 1, escalated => 1 },
    ],
    faq => [
        { slug => 'returns', answered => 2, helpful => 1, not_helpful => 1 },
        { slug => 'shipping-time', answered => 1, helpful => 0, not_helpful => 0 },
    ],
    unmatched => [{ text => 'b?', count => 5 }, { text => 'a?', count => 3 }],
};
is_deeply($r->{json}, $want, '... every number exactly (to exclusive of the next day, percentiles interpolated)');

my $iso = $rep->($A, $superA, "from=${j}10T00:00:00%2B01:00&to=${j}12T12:00:00Z");
is($iso->{status}, 200, 'RFC 3339 bounds (an offset, an exclusive end): 200');
is_deeply([@{ $iso->{json} }{qw(conversations bot_only escalated)}], [5, 1, 4],
          '... from 2026-01-09T23:00Z takes the one before midnight; to 12:00Z leaves the last one out');

my $d = $rep->($A, $adminA, "from=${j}10&to=${j}12&department_id=$dept");
is($d->{status}, 200, 'one department: 200');
is_deeply([@{ $d->{json} }{qw(conversations bot_only escalated offline)}], [2, 0, 2, 0], '... only its conversations');
is_deeply($d->{json}{first_response_s}, { p50 => 45, p90 => 57 }, '... and their times');
is_deeply([map { $_->{handled} } @{ $d->{json}{by_agent} }], [1, 1], '... and agents');

my $csv = $rep->($A, $adminA, "from=${j}10&to=${j}12&format=csv");
is($csv->{status}, 200, 'format=csv: 200');
like($csv->{headers}{'content-type'} // '', qr{^text/csv}, '... text/csv');
is($csv->{body}, "date,conversations,escalated\r\n${j}10,2,1\r\n${j}11,2,2\r\n${j}12,1,1\r\n",
   '... a header row, then one row per day');

# another site sees none of it, and site A's admin none of site B's
my $other_site = $rep->($B, $adminB, "from=${j}10&to=${j}12");
is($other_site->{status}, 200, "the admin of $SB reads ${SB}'s report");
is_deeply([@{ $other_site->{json} }{qw(conversations escalated)}, $other_site->{json}{csat}{count},
           scalar @{ $other_site->{json}{by_agent} }, scalar @{ $other_site->{json}{faq} }],
          [0, 0, 0, 0, 0], "... with none of ${SA}'s conversations");
is_deeply($other_site->{json}{unmatched}, [{ text => 'e?', count => 1 }], '... its own unmatched questions only');
is_deeply([map { $_->{conversations} } @{ $other_site->{json}{by_day} }], [0, 0, 0], '... every day of the range, empty');
is($rep->($B, $adminA, "from=${j}10&to=${j}12")->{status}, 401, "an admin token of $SA on $SB: 401");
is($rep->($A, $adminA, "from=${j}10&to=${j}12&department_id=" . ChatTest::department('Elsewhere', site => $SB))
       ->{json}{conversations}, 0,
   "a department of $SB filters ${SA}'s report to nothing");

# today, as the API wrote it above: the ratings, the queue, the bot's questions
my $now = $rep->($A, $adminA, "from=$today&to=$today");
is($now->{status}, 200, "today's report of $SA");
is_deeply([@{ $now->{json} }{qw(conversations bot_only escalated offline)}], [5, 2, 3, 0],
          '... the conversations the customers above opened');
is_deeply($now->{json}{csat}, { avg => 3, count => 2 }, '... their ratings');
is_deeply([map { [$_->{agent}{id}, $_->{handled}] } @{ $now->{json}{by_agent} }], [[$adA, 2]], '... who closed them');
is_deeply($now->{json}{unmatched}[0], { text => 'where is my parcel??', count => 3 }, '... the top unmatched question');

# ===================================================================================
# 5. Reports are guarded: chat_rate per agent, and a report Postgres does not finish in
#    time is 503 and holds no backend (the server's statement_timeout)
# ===================================================================================

my $slow = ChatTest::start_nginx(workers => 1, http => 'chat_rate 1r/m burst=2;', server => <<"CONF");
        location /a/chat/api/ { chat_api; chat_site $SA; }
CONF
my $rep2 = sub { $slow->get("$A/agent/reports?from=$today&to=$today", headers => $_[0]) };
is($rep2->($superA)->{status}, 200, 'with chat_rate 1r/m burst=2 a supervisor reads a report');
is($rep2->($superA)->{status}, 200, '... and a second one');
my $limited = $rep2->($superA);
is($limited->{status}, 429, '... the third at once: 429');
is($limited->{json}{error}{code}, 'rate_limited', '... rate_limited');
ok(($limited->{headers}{'retry-after'} // 0) >= 1, '... with Retry-After');
is($rep2->($adminA)->{status}, 200, "another agent's reports have a bucket of their own");

# Postgres cannot read bot_feedback while this holds it: the report waits past the pool's
# query timeout (5 s), and the server stops it a second later, before the lock goes
my $holder = fork // die "fork: $!";
if (!$holder) {
    eval { ChatTest::sql("BEGIN; LOCK TABLE bot_feedback IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(12); COMMIT") };
    POSIX::_exit(0);
}
my $locked = sub {
    ChatTest::sql("SELECT count(*) FROM pg_locks WHERE relation = 'bot_feedback'::regclass
                    AND mode = 'AccessExclusiveLock' AND granted");
};
ok(wait_until(sub { $locked->() == 1 }, 5, 0.05), 'bot_feedback is locked by another session');
my $late = $rep2->($adminA);
is($late->{status}, 503, 'a report Postgres does not finish in time: 503');
is($late->{json}{error}{code}, 'unavailable', '... unavailable');
like($late->{json}{error}{message} // '', qr/took too long.*shorter range/, '... saying what to do');
is($late->{headers}{'retry-after'}, 1, '... with Retry-After');
ok(wait_until(sub {
       ChatTest::sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%chat_agent_reports%'
                       AND state = 'active' AND pid <> pg_backend_pid()") == 0 }, 4, 0.1),
   '... and no backend goes on computing it');
is($locked->(), 1, '... (stopped by the server: the lock is still held)');
waitpid $holder, 0;
$slow->stop;

# leave no chat of this file waiting in a queue for the files after it
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL
                WHERE site IN ('$SA', '$SB') AND status <> 'closed'");

$ng->stop;
done_testing();
