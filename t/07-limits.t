# One home per limit: `chatctl limits` prints core's table (chat/limits.h) and the schema
# agrees with it. Each enum column's CHECK lists exactly the table's values, accepts each
# and refuses another; each length bound accepts a value at the limit and refuses one past
# it; the SQL functions that check a list (views, presence) refuse what the table does not
# name with CH422. Changing a limit in core or in sql/ alone fails here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use JSON::PP;
use Test::More;
use ChatTest;

my $root    = repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

my $out = `$chatctl limits`;
is($? >> 8, 0, 'chatctl limits exits 0');
my $limits = eval { decode_json($out) };
ok($limits && $limits->{schema}, 'chatctl limits prints the table as JSON') or BAIL_OUT("no table: $out");

my $schema = ChatTest::fresh_schema('limits_t');
my $base = 'host=127.0.0.1 port=' . ChatTest::pg_port() . ' dbname=chat user=chat password=chat';
my $ci = "$base options='-c search_path=$schema'";
my $mig = `$chatctl --conninfo "$ci" migrate --dir $root/sql 2>&1`;
is($? >> 8, 0, 'the schema migrates into a fresh schema') or diag $mig;

sub q_ { my $s = shift; $s =~ s/'/''/g; "'$s'" }
sub in_schema { my $sql = shift; ChatTest::sql("SET search_path = $schema; $sql") }

# The SQLSTATE a statement ends with ('ok' when it succeeds); always rolled back.
in_schema(q{CREATE FUNCTION t_state(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RAISE EXCEPTION 'rolled back' USING ERRCODE = 'TT000';
EXCEPTION WHEN OTHERS THEN
    RETURN CASE WHEN SQLSTATE = 'TT000' THEN 'ok' ELSE SQLSTATE END;
END $$});
sub state_of { in_schema('SELECT t_state(' . q_(shift) . ')') }

# An INSERT of one row whose column holds $v (a literal), the other columns valid.
my %insert = (
    agents => sub {
        my ($col, $v) = @_;
        my %row = (username => "'u'", display_name => "'U'", password_hash => "'x'", $col => $v);
        my @c = sort keys %row;
        'INSERT INTO agents (' . join(', ', @c) . ') VALUES (' . join(', ', map { $row{$_} } @c) . ')';
    },
    conversations => sub {
        my ($col, $v) = @_;
        "INSERT INTO conversations (session_id, closed_at, $col) VALUES ('s', now(), $v)";
    },
    messages => sub {
        my ($col, $v) = @_;
        my %row = (seq => 1, sender_type => "'customer'", kind => "'text'", content => "'x'", $col => $v);
        my @c = sort keys %row;
        'WITH c AS (INSERT INTO conversations (session_id) VALUES (\'s\') RETURNING id) '
          . 'INSERT INTO messages (conversation_id, ' . join(', ', @c) . ') SELECT id, '
          . join(', ', map { $row{$_} } @c) . ' FROM c';
    },
    customers => sub {
        my ($col, $v) = @_;
        "INSERT INTO customers ($col) VALUES ($v)";
    },
    departments => sub {
        my ($col, $v) = @_;
        my %row = (name => "'n'", $col => $v);
        my @c = sort keys %row;
        'INSERT INTO departments (' . join(', ', @c) . ') VALUES (' . join(', ', map { $row{$_} } @c) . ')';
    },
    unmatched_questions => sub {
        my ($col, $v) = @_;
        "INSERT INTO unmatched_questions (site, day, $col) VALUES ('default', current_date, $v)";
    },
    canned_replies => sub {
        my ($col, $v) = @_;
        my %row = (shortcut => "'s'", title => "'t'", text => "'x'", $col => $v);
        my @c = sort keys %row;
        'INSERT INTO canned_replies (' . join(', ', @c) . ') VALUES (' . join(', ', map { $row{$_} } @c) . ')';
    },
    faq_entries => sub {
        my ($col, $v) = @_;
        my %row = (slug => "'s'", question => "'q'", answer => "'a'", $col => $v);
        my @c = sort keys %row;
        'INSERT INTO faq_entries (' . join(', ', @c) . ') VALUES (' . join(', ', map { $row{$_} } @c) . ')';
    },
);

# The CHECKs of one column: the table's that name it, and its domain's (sql/031_domains.sql).
sub check_defs {
    my ($table, $col) = @_;
    my $defs = in_schema(qq{SELECT string_agg(pg_get_constraintdef(oid), E'\\n') FROM pg_constraint
                             WHERE conrelid = '$schema.$table'::regclass AND contype = 'c'});
    my $domain = in_schema(qq{SELECT string_agg(pg_get_constraintdef(c.oid), E'\\n')
                                FROM pg_attribute a JOIN pg_constraint c ON c.contypid = a.atttypid
                               WHERE a.attrelid = '$schema.$table'::regclass AND a.attname = '$col'
                                 AND c.contype = 'c'});
    return (grep { /\b\Q$col\E\b/ && !/\bOR\b/ } split /\n/, $defs),
           (grep { !/\bOR\b/ } split /\n/, $domain // '');
}

my $S = $limits->{schema};
for my $key (sort keys %$S) {
    my ($table, $col) = split /\./, $key;
    my $spec = $S->{$key};
    my $ins = $insert{$table} or die "no insert for $table";
    my $accepts = sub { my ($v, $what) = @_; is(state_of($ins->($col, $v)), 'ok', "$key accepts $what") };
    my $refuses = sub { my ($v, $what) = @_; is(state_of($ins->($col, $v)), '23514', "$key refuses $what") };

    if (my $values = $spec->{values}) {
        my ($def) = grep { /ANY|IN/ } check_defs($table, $col);
        ok($def, "$key has a CHECK listing its values") or next;
        my @listed = $def =~ /'([^']*)'::text/g;
        is_deeply([sort @listed], [sort @$values], "$key: the CHECK lists exactly the table's values ($def)");
        $accepts->(q_($_), "'$_'") for @$values;
        $refuses->(q_('no-such-value'), 'a value the table does not name');
    }
    if (defined(my $d = $spec->{default})) {
        my $col_default = in_schema(qq{SELECT column_default FROM information_schema.columns
                                        WHERE table_schema = '$schema' AND table_name = '$table'
                                          AND column_name = '$col'});
        my ($got) = $col_default =~ /^'?([^':]*)'?/;
        is($got, "$d", "$key defaults to the table's $d");
    }
    if (defined(my $min = $spec->{min_length})) {
        $accepts->(q_('a' x $min), "$min characters");
        $refuses->(q_('a' x ($min - 1)), ($min - 1) . ' characters') if $min > 0;
    }
    if (defined(my $max = $spec->{max_length})) {
        $accepts->(q_('a' x $max), "$max characters");
        $refuses->(q_('a' x ($max + 1)), ($max + 1) . ' characters');
    }
    if (defined(my $min = $spec->{min})) {
        $accepts->($min, "$min");
        $refuses->($min - 1, $min - 1);
    }
    if (defined(my $max = $spec->{max})) {
        $accepts->($max, "$max");
        $refuses->($max + 1, $max + 1);
    }
    if (defined(my $p = $spec->{pattern})) {
        my @defs = check_defs($table, $col);
        ok((grep { index($_, $p) >= 0 } @defs), "$key: the CHECK matches the pattern $p") or diag "@defs";
        $refuses->(q_('-a'), 'a value that does not start with [a-z0-9]');
        $refuses->(q_('A'), 'an upper-case letter');
    }
}

# The value lists the SQL functions check themselves (CH422 for anything else).
my %call = (
    'chat_agent_conversations.view' => sub { 'SELECT chat_agent_conversations(gen_random_uuid(), \'agent\', '
                                             . q_(shift) . ', 1, NULL, NULL, \'default\')' },
    'chat_agent_presence.presence'  => sub { 'SELECT chat_agent_presence(gen_random_uuid(), ' . q_(shift) . ')' },
);
my $F = $limits->{functions};
is_deeply([sort keys %$F], [sort keys %call], 'every function list of the table is checked here');
for my $key (sort keys %$F) {
    my $call = $call{$key} or next;
    for my $v (@{ $F->{$key}{values} }) {
        isnt(state_of($call->($v)), 'CH422', "$key accepts '$v'");
    }
    is(state_of($call->('no-such-value')), 'CH422', "$key refuses a value the table does not name");
}

# The API's bounds that the schema does not hold are still the table's (a sanity check of
# the JSON: each range has min <= max, and the schema's bounds sit inside the API's).
my $A = $limits->{api};
for my $k (sort keys %$A) {
    next unless ref $A->{$k} eq 'HASH' && defined $A->{$k}{min} && defined $A->{$k}{max};
    cmp_ok($A->{$k}{min}, '<=', $A->{$k}{max}, "api.$k is a range");
}
is($A->{username_bytes}{max}, $S->{'agents.username'}{max_length}, 'the API and the schema bound usernames alike');
is($A->{display_name_bytes}{max}, $S->{'agents.display_name'}{max_length},
   'the API and the schema bound display names alike');
is($A->{max_active_chats}{min}, $S->{'agents.max_active_chats'}{min}, 'the API and the schema bound capacity alike');
is($A->{faq_slug_bytes}{max}, $S->{'faq_entries.slug'}{max_length}, 'the API and the schema bound slugs alike');
is($A->{site_bytes}{max}, $S->{'conversations.site'}{max_length}, 'the API and the schema bound site names alike');
is($A->{department_name_chars}{max}, $S->{'departments.name'}{max_length},
   'the API and the schema bound department names alike');
is($A->{canned_shortcut_bytes}{max}, $S->{'canned_replies.shortcut'}{max_length},
   'the API and the schema bound canned shortcuts alike');

# Tags: the schema's CHECK holds the API's bounds (pattern, count, no empty or NULL element).
my $tag_state = sub { state_of("INSERT INTO conversations (session_id, tags) VALUES ('s', " . shift . ')') };
is($tag_state->(q{ARRAY['refund', 'a' || repeat('b', 31)]}), 'ok', 'conversations.tags accepts tags at the bounds');
is($tag_state->('ARRAY[' . join(', ', map { "'t$_'" } 1 .. $A->{tags_max}) . ']'), 'ok',
   "conversations.tags accepts $A->{tags_max} tags");
is($tag_state->('ARRAY[' . join(', ', map { "'t$_'" } 0 .. $A->{tags_max}) . ']'), '23514',
   'conversations.tags refuses one more');
is($tag_state->($_), '23514', "conversations.tags refuses $_")
    for q{ARRAY['Refund']}, q{ARRAY['-x']}, q{ARRAY['a b']}, q{ARRAY['']}, q{ARRAY[NULL]::text[]},
        q{ARRAY['a' || repeat('b', 32)]};

# An UPDATE is held to the same rules as an INSERT (031_domains: most of conversations' rules
# are domains now, checked where a value is written): a conversation's column set to a value
# the table refuses is refused with the same SQLSTATE, and set to a good one is not.
in_schema(q{CREATE FUNCTION t_update(col text, v text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    conv uuid;
BEGIN
    INSERT INTO conversations (session_id, status, closed_at) VALUES ('u', 'closed', now())
    RETURNING id INTO conv;
    EXECUTE format('UPDATE conversations SET %I = %s WHERE id = $1', col, v) USING conv;
END $$});
my $update_state = sub { my ($col, $v) = @_; state_of('SELECT t_update(' . q_($col) . ', ' . q_($v) . ')') };
for my $key (sort grep { /^conversations\./ } keys %$S) {
    my (undef, $col) = split /\./, $key;
    my $spec = $S->{$key};
    my ($good, $bad) = $spec->{values}            ? (q_($spec->{values}[0]), q_('no-such-value'))
                     : defined $spec->{pattern}    ? (q_('a'), q_('-a'))
                     : defined $spec->{max}        ? ($spec->{max}, $spec->{max} + 1)
                     : defined $spec->{max_length} ? (q_('a' x $spec->{max_length}), q_('a' x ($spec->{max_length} + 1)))
                     :                               die "no bad value for $key";
    is($update_state->($col, $good), 'ok', "an UPDATE of $key to $good is accepted");
    is($update_state->($col, $bad), '23514', "an UPDATE of $key to a value the table refuses is refused");
}
is($update_state->($_, -1), '23514', "an UPDATE of conversations.$_ below 0 is refused")
    for qw(last_seq customer_unread agent_unread);
is($update_state->('tags', q{ARRAY['refund', 'vip']}), 'ok', 'an UPDATE of conversations.tags to good tags is accepted');
is($update_state->('tags', $_), '23514', "an UPDATE of conversations.tags to $_ is refused")
    for q{ARRAY['Refund']}, q{ARRAY['a b']}, q{ARRAY[NULL]::text[]}, q{tags || ARRAY['-x']},
        'ARRAY[' . join(', ', map { "'t$_'" } 0 .. $A->{tags_max}) . ']';

# 031_domains checks the rows a database already holds: a value its rules refuse (here a site,
# its CHECK never checked: NOT VALID) stops the migration, and the schema stays as it was.
{
    my $old = ChatTest::fresh_schema('limits_old_t');
    my $oci = "$base options='-c search_path=$old'";
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$dir/functions";
    system('cp', (grep { (m{/(\d{3})_[^/]+$})[0] < 31 } glob("$root/sql/[0-9][0-9][0-9]_*.sql")), $dir) == 0 or die;
    system('cp', glob("$root/sql/functions/*.sql"), "$dir/functions") == 0 or die;
    my $out = `$chatctl --conninfo "$oci" migrate --dir $dir 2>&1`;
    is($? >> 8, 0, 'a schema migrates up to 030') or diag $out;
    ChatTest::sql("SET search_path = $old; ALTER TABLE conversations DROP CONSTRAINT conversations_site_check;
                   INSERT INTO conversations (session_id, site) VALUES ('s', 'Not A Site');
                   ALTER TABLE conversations ADD CONSTRAINT conversations_site_check
                       CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}\$') NOT VALID");
    $out = `$chatctl --conninfo "$oci" migrate --dir $root/sql 2>&1`;
    isnt($? >> 8, 0, '031 refuses to migrate a database holding a site its rule refuses');
    like($out, qr/column "site" of table "conversations" contains values that violate/, '... naming the column')
        or diag $out;
    is(ChatTest::sql("SET search_path = $old; SELECT format_type(atttypid, NULL) FROM pg_attribute
                       WHERE attrelid = 'conversations'::regclass AND attname = 'site'"), 'text',
       '... and leaves the schema as it was');
}

# The queues' serving order is written in two places that cannot share it
# (039_priority_rank_index): chat_priority_rank, which chat_queue_position and
# chat_assign_queue call, and conversations_dept_queue_idx, which holds the rank. Should the
# two drift apart, the positions stay right (t/43) but every count and queue head becomes a
# scan of the site's queued conversations: the rank must be in the index scan's condition,
# and a queue's head must come out of the index unsorted (the functions' own statements).
{
    # a shop's queues: 40 departments, 4 000 queued conversations of every priority
    in_schema(q{INSERT INTO departments (id, name)
                SELECT ('00000000-0000-0000-0000-' || lpad(d::text, 12, '0'))::uuid, 'd' || d
                  FROM generate_series(1, 40) d;
                INSERT INTO conversations (session_id, status, queued_at, priority, department_id)
                SELECT 'queued-' || i, 'agent', now() - i * interval '1 second',
                       (ARRAY['urgent', 'high', 'normal', 'low'])[1 + i % 4],
                       ('00000000-0000-0000-0000-' || lpad((1 + i % 40)::text, 12, '0'))::uuid
                  FROM generate_series(1, 4000) i;
                ANALYZE conversations});
    my $plan = sub { in_schema('EXPLAIN (COSTS OFF) ' . shift) };
    my $queued = q{q.site = 'default' AND q.department_id = '00000000-0000-0000-0000-000000000001'
                   AND q.status = 'agent' AND q.assigned_agent_id IS NULL};
    my $count = $plan->(qq{SELECT count(*) FROM conversations q WHERE $queued
                           AND (chat_priority_rank(q.priority), q.queued_at, q.id)
                             < (chat_priority_rank('high'), now(), '00000000-0000-0000-0000-000000000002'::uuid)});
    like($count, qr/Index (?:Only )?Scan using conversations_dept_queue_idx/,
         "a department queue's position is counted on conversations_dept_queue_idx") or diag $count;
    like($count, qr/Index Cond: .*CASE \(priority\)::text WHEN 'urgent'/s,
         '... with chat_priority_rank inlined into its Index Cond, as the index holds it') or diag $count;
    unlike($count, qr/Filter:/, '... and nothing left to filter row by row') or diag $count;
    my $head = $plan->(qq{SELECT id, chat_priority_rank(priority) AS priority_rank, queued_at
                            FROM conversations q WHERE $queued
                           ORDER BY priority_rank, queued_at, id LIMIT 1});
    like($head, qr/Index Scan using conversations_dept_queue_idx/,
         "a department queue's head is read from conversations_dept_queue_idx") or diag $head;
    unlike($head, qr/Sort/, '... in its order, with no sort') or diag $head;
}

is($limits->{directives}{chat_site}{default}, $S->{'conversations.site'}{default},
   'chat_site defaults to the site the schema gives existing rows');

done_testing();
