#!/usr/bin/perl
# Applies one named mutation from mutations.txt to a copy of the repository.
#   perl apply.pl mutations.txt NAME ROOT     -> edits files under ROOT, prints "sim|unit SEEDS ARGS" (what must catch
#                                                it; SEEDS is the bug's own minimum seed budget, 0 when it has none)
#   perl apply.pl mutations.txt --list        -> prints "name<TAB>description" per mutation
# Every "-" line is a literal text (leading whitespace ignored) that must occur exactly once in the current file; the
# following "+" line (optional: none means delete) replaces it. So a mutation that no longer applies fails loudly
# instead of silently testing the correct core.
use strict; use warnings;
my ($file, $name, $root) = @ARGV;
open my $fh, '<', $file or die "cannot read $file: $!";
my (@muts, $cur);
while (my $line = <$fh>) {
    chomp $line;
    next if $line =~ /^\s*$/ || $line =~ /^#(?!#)/;
    if ($line =~ /^##\s*([\w-]+):\s*(.*)$/) { $cur = { name => $1, desc => $2, args => '', check => 'sim', seeds => 0, edits => [] }; push @muts, $cur; next; }
    die "line outside a mutation: $line\n" unless $cur;
    if ($line =~ /^args:\s*(.*)$/) { $cur->{args} = $1; next; }
    if ($line =~ /^check:\s*(sim|unit)\s*$/) { $cur->{check} = $1; next; }
    if ($line =~ /^seeds:\s*(\d+)\s*$/) { $cur->{seeds} = $1; next; }
    if ($line =~ /^file:\s*(\S+)/) { push @{$cur->{edits}}, { file => $1, pairs => [] }; next; }
    if ($line =~ /^-\s?(.*)$/) { push @{$cur->{edits}[-1]{pairs}}, [ trim($1), '' ]; next; }
    if ($line =~ /^\+\s?(.*)$/) { $cur->{edits}[-1]{pairs}[-1][1] = $1; next; }
    die "cannot parse: $line\n";
}
sub trim { my $s = shift; $s =~ s/^\s+//; $s =~ s/\s+$//; return $s; }
if ($name eq '--list') { print "$_->{name}\t$_->{desc}\n" for @muts; exit 0; }
my ($m) = grep { $_->{name} eq $name } @muts or die "unknown mutation '$name'\n";
for my $e (@{$m->{edits}}) {
    my $path = "$root/$e->{file}";
    open my $in, '<', $path or die "cannot read $path: $!";
    local $/; my $text = <$in>; close $in;
    for my $p (@{$e->{pairs}}) {
        my ($old, $new) = @$p;
        my $count = () = $text =~ /\Q$old\E/g;
        die "mutation $name: expected exactly one '$old' in $e->{file}, found $count (the core changed: update mutations.txt)\n" if $count != 1;
        $text =~ s/\Q$old\E/$new/;
    }
    open my $out, '>', $path or die "cannot write $path: $!";
    print $out $text; close $out;
}
print "$m->{check} $m->{seeds} $m->{args}\n";
