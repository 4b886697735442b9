using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>The real `courier` process speaks its own syntax: usage, help, and one `courier: error:` line with exit 2.</summary>
public sealed class CliSyntaxTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private const string Nobody = "tcp://127.0.0.1:1";

    private static readonly string[] CommandNames = ["server", "broker", "worker", "request", "bench", "demo", "health"];

    public static TheoryData<string> Commands => new(CommandNames);

    [Fact]
    public async Task Usage_says_courier_and_lists_the_commands()
    {
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "--help");

        Assert.True(exit == 0, stderr);
        Assert.StartsWith("Usage: courier COMMAND [options]", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Courier.Cli", stdout, StringComparison.Ordinal);
        foreach (var command in CommandNames)
        {
            Assert.Matches($@"(?m)^  {command} ", stdout);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Each_command_help_says_courier_shows_durations_as_typed_and_states_the_syntax_once(string command)
    {
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, command, "--help");

        Assert.True(exit == 0, stderr);
        Assert.StartsWith($"Usage: courier {command} ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Courier.Cli", stdout, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\d\d:\d\d:\d\d", stdout); // no TimeSpan.ToString() defaults
        Assert.Contains("--zmtp-heartbeat DURATION", stdout, StringComparison.Ordinal);
        Assert.Contains("[default: 5s]", stdout, StringComparison.Ordinal);
        Assert.Single(Regex.Matches(stdout, "Durations are a number and a unit: 250us, 500ms, 2.5s, 1m, 1h. A bare number is refused, except 0."));
        Assert.Contains("Exit codes: 0 success;", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_help_shows_its_timeout_default_as_it_is_typed()
    {
        var (_, stdout, _) = await ChildProcess.RunAsync(Bound, "request", "--help");

        Assert.Matches(@"(?m)^  --timeout DURATION +Time to wait for a reply, per attempt\. \[default: 2\.5s\]$", stdout);
        Assert.StartsWith("Usage: courier request --connect ENDPOINT [options] [PAYLOAD...]", stdout, StringComparison.Ordinal);
    }

    [Theory]
    // A bare number: 500 ms or 500 s?
    [InlineData("--timeout: '500' has no unit; write 500ms or 500s", "request", "--connect", Nobody, "--timeout", "500")]
    [InlineData("--timeout: '2x' is not a duration; write it like 500ms, 2.5s or 1m", "request", "--connect", Nobody, "--timeout", "2x")]
    [InlineData("--delay: '10' has no unit; write 10ms or 10s", "server", "--bind", "tcp://127.0.0.1:*", "--delay", "10")]
    // Required flags, commands, options.
    [InlineData("--bind: missing; give one, e.g. --bind tcp://0.0.0.0:5555", "server")]
    [InlineData("--connect: missing; give one, e.g. --connect tcp://127.0.0.1:5555", "request", "x")]
    [InlineData("unknown command 'frobnicate'; the commands are server, broker, worker, request, bench, demo, health, keygen, top", "frobnicate")]
    [InlineData("no command given; one of server, broker, worker, request, bench, demo, health, keygen, top (see courier --help)")]
    [InlineData("unknown option '--frob' for courier server; see courier server --help", "server", "--bind", "tcp://127.0.0.1:*", "--frob")]
    [InlineData("unknown option '--servce' for courier request; a PAYLOAD that begins with - goes after --", "request", "--connect", Nobody, "--servce", "whoami")]
    // Validation names the flag, never a library property (CourierClientOptions.Timeout).
    [InlineData("--timeout: '0s' is too small; at least 1ms", "request", "--connect", Nobody, "--timeout", "0s")]
    [InlineData("--retries: '-1' is too small; at least 0", "request", "--connect", Nobody, "--retries", "-1")]
    [InlineData("--protocol: '5' is not one of Auto, Courier, Mdp", "request", "--connect", Nobody, "--protocol", "5")]
    [InlineData("--service: must not be empty", "request", "--connect", Nobody, "--service", "")]
    [InlineData("--service: 'mmi.x': names starting with mmi. are reserved for the broker's 8/MMI queries", "worker", "--connect", Nobody, "--service", "mmi.x")]
    // The library's rule for names, checked before anything starts: a zero-width space, a C1 control.
    [InlineData("--service: contains a control or format character, or a line separator", "worker", "--connect", Nobody, "--service", "ord\u200Bers")]
    [InlineData("--service: contains a control or format character, or a line separator", "request", "--connect", Nobody, "--service", "x\u009B31m")]
    [InlineData("--log-level: 'loud' is not one of Trace, Debug, Information, Warning, Error, Critical, None", "--log-level", "loud", "health")]
    // Endpoints are checked before anything connects: no stack trace, no exit 134.
    [InlineData("--connect: 'localhost:5999' has no scheme; write tcp://localhost:5999", "request", "--connect", "localhost:5999")]
    [InlineData("--connect: 'tcp://127.0.0.1' has no port; write tcp://127.0.0.1:PORT", "request", "--connect", "tcp://127.0.0.1")]
    [InlineData("--connect: 'tcp://127.0.0.1:*': port * only suits a bind; a connect needs the port number", "bench", "--connect", "tcp://127.0.0.1:*")]
    [InlineData("--connect: 'tcp://127.0.0.1:70000' has the port '70000'; a port is 1-65535", "health", "--connect", "tcp://127.0.0.1:70000")]
    [InlineData("--connect: 'broker:5555' has no scheme; write tcp://broker:5555", "worker", "--connect", "broker:5555")]
    [InlineData("--bind: 'nonsense://nowhere' has the scheme 'nonsense://'; use tcp://, ipc:// or inproc://", "server", "--bind", "nonsense://nowhere")]
    [InlineData("--bind: 'tcp://0.0.0.0:0' has the port '0'; a port is 1-65535, or * for any free one", "broker", "--bind", "tcp://0.0.0.0:0")]
    // Edge values: zero, negative and huge counts and durations.
    [InlineData("--duration: '0s' is too small; at least 1s", "demo", "--duration", "0s")]
    [InlineData("--duration: '0s' is too small; at least 100ms", "bench", "--connect", Nobody, "--duration", "0s")]
    [InlineData("--clients: '0' is too small; at least 1", "bench", "--connect", Nobody, "--clients", "0")]
    [InlineData("--inflight: '-5' is too small; at least 1", "bench", "--connect", Nobody, "--inflight", "-5")]
    [InlineData("--clients: '99999999999999999999' is too large; at most 1000", "bench", "--connect", Nobody, "--clients", "99999999999999999999")]
    [InlineData("--size: '2147483648' is too large; at most 16777216", "bench", "--connect", Nobody, "--size", "2147483648")]
    [InlineData("--timeout: '25h' is too large; at most 24h", "request", "--connect", Nobody, "--timeout", "25h")]
    [InlineData("--timeout: '100000000h' is too long; at most 8760h", "request", "--connect", Nobody, "--timeout", "100000000h")]
    [InlineData("--concurrency: '0' is too small; at least 1", "server", "--bind", "tcp://127.0.0.1:*", "--concurrency", "0")]
    [InlineData("--heartbeat: '0' is too small; at least 10ms", "broker", "--bind", "tcp://127.0.0.1:*", "--heartbeat", "0")]
    [InlineData("--liveness: '0' is too small; at least 1", "worker", "--connect", Nobody, "--liveness", "0")]
    [InlineData("--drain-timeout: '25h' is too large; at most 24h", "worker", "--connect", Nobody, "--drain-timeout", "25h")]
    [InlineData("--zmtp-heartbeat: '1us' is too small; at least 1ms, or 0", "server", "--bind", "tcp://127.0.0.1:*", "--zmtp-heartbeat", "1us")]
    public async Task A_bad_command_line_is_one_error_line_naming_the_flag_and_exit_2(string error, params string[] args)
    {
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, args);

        Assert.True(exit == 2, $"exit {exit}: {stderr}");
        Assert.Equal($"courier: error: {error}", stderr.Trim());
        Assert.Empty(stdout.Trim());
    }

    [Fact]
    public async Task A_payload_frame_that_begins_with_a_dash_goes_after_double_dash()
    {
        await using var server = await TestServer.StartAsync();

        var (exit, stdout, stderr) = await RunEndingWithAsync("request", "--connect", server.Endpoint!, "--", "-x", "--y");

        Assert.True(exit == 0, stderr);
        Assert.Equal(["-x", "--y"], stdout.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_flag_given_last_without_its_value_says_it_needs_one()
    {
        var (exit, stdout, stderr) = await RunEndingWithAsync("request", "--connect", Nobody, "--timeout");

        Assert.Equal(2, exit);
        Assert.Equal("courier: error: --timeout: needs a value (DURATION)", stderr.Trim());
        Assert.Empty(stdout.Trim());
    }

    /// <summary>
    /// Runs courier with <paramref name="args"/> last. ChildProcess.Start appends --transport, which after <c>--</c> is a
    /// payload frame and after a flag its value: here --transport goes first (it applies to every command).
    /// </summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunEndingWithAsync(params string[] args)
    {
        await using var process = ChildProcess.StartProgram(
            "dotnet", [ChildProcess.CliDll, "--transport", Courier.Transport.Internal.TransportResolver.AutoMeans.ToString(), .. args]);
        var exit = await process.WaitForExitAsync(Bound);
        return (exit, process.Stdout, process.Stderr);
    }
}
