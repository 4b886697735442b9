using System.CommandLine;
using Courier.Client;
using Courier.Transport;
using Microsoft.Extensions.Logging;

namespace Courier.Cli;

/// <summary>Options and error handling shared by every command.</summary>
internal static class Cli
{
    private static readonly CancellationTokenSource ShutdownSource = new();

    /// <summary>Cancelled on SIGINT or SIGTERM.</summary>
    public static CancellationToken Shutdown => ShutdownSource.Token;

    /// <summary>Completes on SIGINT or SIGTERM.</summary>
    public static Task WaitForShutdownAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Shutdown.Register(done.SetResult);
        return done.Task;
    }

    /// <summary>
    /// The first SIGINT or SIGTERM stops gracefully (a server drains for up to its <c>--drain-timeout</c>); a second ends
    /// the process at once, with the code the signal's own end would give (130, 143): Ctrl-C twice never waits out a long
    /// drain. By exit, not by letting the signal through: as a container's first process (PID 1) the kernel would
    /// ignore the signal's default action.
    /// </summary>
    public static void RequestShutdown(System.Runtime.InteropServices.PosixSignalContext context)
    {
        context.Cancel = true;
        if (ShutdownSource.IsCancellationRequested)
        {
            Environment.Exit(context.Signal == System.Runtime.InteropServices.PosixSignal.SIGTERM ? 143 : 130);
        }

        ShutdownSource.Cancel();
    }

    /// <summary>Stated in every help page; the README's paragraph on exit codes says the same.</summary>
    public const string ExitCodes = "Exit codes: 0 success; 1 unhealthy (health) or a failed request in the demo; "
        + "2 bad arguments or setup (cannot bind); 3 timeout or unreachable: nothing answered; 4 the peer answered with an error status; "
        + "5 any other error; 130 interrupted. Every failure prints one line `courier: error: ...` on stderr.";

    public static readonly Option<TransportImplementation> TransportOption = Recursive(CliOption.Enum(
        "--transport",
        TransportImplementation.Auto,
        "ZeroMQ implementation: Auto (native libzmq when it loads, else managed), Native or Managed."));

    public static readonly Option<TimeSpan> ZmtpHeartbeatOption = Recursive(CliOption.Duration(
        "--zmtp-heartbeat",
        TransportOptions.Default.HeartbeatInterval,
        TimeSpan.FromMilliseconds(1),
        TimeSpan.FromHours(1),
        "ZMTP PING interval on every connection a client opens (keeps connections through nginx alive; servers and brokers answer pings and send none, and find dead peers by TCP keepalive); 0 turns ZMTP heartbeats off. A worker sends none unless given this option: its 7/MDP heartbeats do the same.",
        allowZero: true));

    private static Option<T> Recursive<T>(Option<T> option)
    {
        option.Recursive = true;
        return option;
    }

    /// <summary>CURVE settings for this run's role, from the --curve-* and --policy flags (off without them).</summary>
    public static Courier.Security.CourierSecurityOptions Security { get; private set; } = Courier.Security.CourierSecurityOptions.Default;

    /// <summary>Socket settings for this run, with the implementation chosen by --transport.</summary>
    public static TransportOptions Transport { get; private set; } = TransportOptions.Default;

    public static readonly Option<LogLevel> LogLevelOption = Recursive(CliOption.Enum(
        "--log-level",
        LogLevel.Warning,
        "Least severe log level written to stderr: Trace, Debug, Information, Warning, Error, Critical or None.",
        helpName: "LEVEL"));

    public static ILoggerFactory CreateLoggerFactory(ParseResult parse) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(parse.GetValue(LogLevelOption))
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace) // stdout carries results only
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }));

    /// <summary>Runs a command body, turning every failure into one line on stderr and a non-zero exit code.</summary>
    public static async Task<int> RunAsync(ParseResult parse, Func<Task<int>> body)
    {
        var heartbeat = parse.GetValue(ZmtpHeartbeatOption);
        if (parse.CommandResult.Command.Name == "worker" && parse.GetResult(ZmtpHeartbeatOption) is null or { Implicit: true })
        {
            heartbeat = Courier.Worker.CourierWorkerOptions.Default.Transport.HeartbeatInterval; // its 7/MDP heartbeats keep it alive
        }

        Transport = TransportOptions.Default with
        {
            Implementation = parse.GetValue(TransportOption),
            HeartbeatInterval = heartbeat,
            // The timeout stays three intervals at least, as with the defaults (5 s and 15 s).
            HeartbeatTimeout = heartbeat * 3 > TransportOptions.Default.HeartbeatTimeout ? heartbeat * 3 : TransportOptions.Default.HeartbeatTimeout,
        };
        try
        {
            var command = parse.CommandResult.Command.Name;
            Security = command switch
            {
                "server" or "broker" => SecurityFlags.ForListener(parse, command),
                "request" or "bench" or "health" or "worker" or "top" => SecurityFlags.ForConnector(parse, command),
                _ => RefuseSecurity(parse, command),
            };
            return await body();
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex) when (ex is CourierTimeoutException or CourierUnreachableException)
        {
            return Fail(3, ex.Message);
        }
        catch (CourierRemoteException ex)
        {
            return Fail(4, ex.Message);
        }
        catch (CourierException ex)
        {
            return Fail(5, ex.Message);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException)
        {
            return Fail(2, ex.Message);
        }
        catch (Exception ex)
        {
            // Still one line, as promised; the type says where to look. Not a crash with a stack trace and exit 134.
            return Fail(5, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private static Courier.Security.CourierSecurityOptions RefuseSecurity(ParseResult parse, string command)
    {
        SecurityFlags.RefuseAll(parse, command);
        return Courier.Security.CourierSecurityOptions.Default;
    }

    /// <summary>
    /// Prints where the metrics are served, and warns once on stderr when a CURVE listener serves them beyond loopback:
    /// plain HTTP, no authentication, with the service names, queue depths and counters a policy may deny through
    /// <c>mmi.stats</c>.
    /// </summary>
    public static void AnnounceMetrics(string? url, bool listener)
    {
        if (url is null)
        {
            return;
        }

        Console.WriteLine($"metrics on {url}");
        if (listener && Security.Enabled && !IsPrivate(new Uri(url).Host))
        {
            Console.Error.WriteLine(
                $"courier: warning: metrics on {url} are plain HTTP without authentication, beside a CURVE listener: whoever reaches "
                + "that port reads service names, queue depths and counters that --policy may deny through mmi.stats; give "
                + "--metrics-host a loopback or private address");
        }
    }

    /// <summary>Loopback, or an address of a private range (10/8, 172.16/12, 192.168/16, fc00::/7, fe80::/10): not 0.0.0.0, not a public one.</summary>
    private static bool IsPrivate(string host)
    {
        if (host == "localhost")
        {
            return true;
        }

        if (!System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return false;
        }

        if (System.Net.IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6UniqueLocal || address.IsIPv6LinkLocal;
        }

        var bytes = address.GetAddressBytes();
        return bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xF0) == 16) || (bytes[0] == 192 && bytes[1] == 168);
    }

    /// <summary>Bytes of an error line: a peer's error text is quoted in it (a remote error, an MMI answer), and a peer picks its length.</summary>
    public const int ErrorLineBytes = 4096;

    /// <summary>
    /// Says what failed on one line of stderr and returns <paramref name="code"/>. The message may quote a peer: what does
    /// not print as itself (escape sequences that would drive the terminal included) shows as <c>?</c>, and it is cut.
    /// </summary>
    public static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"courier: error: {Courier.Internal.LogText.Line(message, ErrorLineBytes)}");
        return code;
    }

    public static CourierClientOptions ClientOptions(IReadOnlyList<string> endpoints, TimeSpan timeout, int retries, ILoggerFactory loggerFactory)
        => CourierClientOptions.Default with
        {
            Endpoints = endpoints,
            Timeout = timeout,
            Retries = retries,
            LoggerFactory = loggerFactory,
            Transport = Transport,
            Security = Security,
        };
}
