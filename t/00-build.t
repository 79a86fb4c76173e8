# The module builds and loads: `nginx -t` passes on every config in conf/ with the built .so
# (nginx dlopens it with RTLD_NOW, so a missing C++ symbol fails right here).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Basename qw(basename);
use File::Path qw(make_path remove_tree);
use Test::More;
use ChatTest;

my $root = repo_root();
my $so   = module_so();

ok(-f $so, 'the module was built: build/nginx/objs/ngx_http_chat_module.so')
    or BAIL_OUT('no module; run make build');

# our own code is all inside the .so: no undefined symbol of namespace chat
my @undef = grep { /\bchat\b/ } map { (split)[-1] } grep { /\sU\s/ } qx{nm -D -C '$so' 2>/dev/null};
is_deeply(\@undef, [], 'the module has no undefined symbol of its own (core is linked in)')
    or diag(join "\n", @undef);

my $tmp = var_dir() . '/t/00-build';
remove_tree($tmp);
make_path("$tmp/log");
chmod 0755, $tmp;

# a stand-in for the operator's secret in the example config
open my $fh, '>', "$tmp/chat.secret" or die $!;
print $fh ('ab' x 32) . "\n";
close $fh;

my @confs = sort glob "$root/conf/*";
ok(scalar(grep { /dev\.conf\.in$/ } @confs), 'conf/dev.conf.in exists');
ok(scalar(grep { /nginx-chat\.example\.conf$/ } @confs), 'conf/nginx-chat.example.conf exists');

for my $conf (@confs) {
    my $name = basename($conf);
    my $out  = "$tmp/$name.conf";

    if ($name =~ /\.in$/) {
        # rendered exactly as `make run` renders it
        system("$root/scripts/nginx-conf.sh", $conf, $out) == 0
            or do { fail("render $name"); next };
    } else {
        # the operator's paths, pointed at this test's directory and build
        open my $in, '<', $conf or die "$conf: $!";
        local $/;
        my $text = <$in>;
        close $in;
        $text =~ s{^(\s*load_module\s+)\S+;}{$1$so;}mg;
        $text =~ s{^(\s*chat_secret\s+)\S+;}{$1$tmp/chat.secret;}mg;
        $text =~ s{/var/log/nginx/}{$tmp/log/}g;
        $text =~ s{^(\s*pid\s+)\S+;}{$1$tmp/nginx.pid;}mg;
        open my $o, '>', $out or die "$out: $!";
        print $o $text;
        close $o;
    }

    my ($ok, $output) = nginx_test($out, $tmp);
    ok($ok, "nginx -t passes on conf/$name") or diag($output);
}

done_testing;
