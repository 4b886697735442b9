using System.CommandLine;
using Courier.Cli.Bench;
using Courier.Client;
using Courier.Transport;

namespace Courier.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var connect = CliOption.Endpoints("--connect", "Endpoint to load; repeat it to spread each connection's requests over several servers or brokers (failover).");
        var service = CliOption.Service("--service", "echo", allowMmi: true, "Service to ask.");
        var clients = CliOption.Int("--clients", 4, 1, 1000, "Connections (one client each).");
        // A client keeps at most MaxInFlight requests outstanding; more would only queue inside it.
        var inflight = CliOption.Int("--inflight", 100, 1, CourierClientOptions.Default.MaxInFlight, "Requests kept in flight per connection.");
        var duration = CliOption.Duration("--duration", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(24), "How long to send.");
        var warmup = CliOption.Duration(
            "--warmup", TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromHours(1),
            "Send the same load for this long first, not counted: a fresh process (client, server, broker or worker) runs slower while its JIT compiles.");
        var size = CliOption.Int("--size", 64, 0, (int)TransportOptions.Default.MaxFrameSize, "Request body size in bytes.", helpName: "BYTES");
        var timeout = CliOption.Duration("--timeout", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24), "Attempt timeout per request.");
        var retries = CliOption.Int("--retries", 3, 0, 100, "Resends after the first attempt.");
        var json = new Option<bool>("--json") { Description = "Print a last line of JSON with the results." };
        var atMostOnce = new Option<bool>("--at-most-once")
        {
            Description = "Send the requests as not idempotent (by default they are declared idempotent, as echo and whoami are): one held by a connection or worker that dies fails with outcome unknown instead of running again.",
        };
        var resumeOnPool = new Option<bool>("--resume-on-pool")
        {
            Description = "Resume each caller on the thread pool after its reply, as a client with default options does (by default the load generator resumes them on the client's own loop: no thread hop).",
        };
        var command = new Command("bench", "Measure throughput and latency against a server, broker or proxy.")
        {
            connect, service, clients, inflight, duration, warmup, size, timeout, retries, atMostOnce, resumeOnPool, json,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var settings = new BenchSettings(
                parse.GetValue(connect)!, parse.GetValue(service)!, parse.GetValue(clients), parse.GetValue(inflight),
                parse.GetValue(duration), parse.GetValue(size), parse.GetValue(timeout), parse.GetValue(retries), parse.GetValue(atMostOnce),
                parse.GetValue(warmup), parse.GetValue(resumeOnPool));
            var result = await BenchRunner.RunAsync(settings, loggerFactory, BenchRunner.TerminalProgress(), cancellationToken);
            if (!Console.IsOutputRedirected)
            {
                Console.WriteLine();
            }

            result.WriteTable(Console.Out);
            if (parse.GetValue(json))
            {
                Console.WriteLine(result.ToJson());
            }

            return result.Requests > 0 ? 0 : NothingSucceeded(result.Failures, settings);
        }));
        return command;
    }

    /// <summary>Error statuses mean something answered (exit 4, naming them); only timeouts or unreachable endpoints mean nothing did (exit 3).</summary>
    private static int NothingSucceeded(BenchErrors failures, BenchSettings settings)
    {
        var endpoints = string.Join(", ", settings.Endpoints);
        if (failures.Remote > 0)
        {
            return Cli.Fail(4, $"no request succeeded: {failures.Describe()}");
        }

        if (failures.Count == 0)
        {
            return Cli.Fail(3, $"no request completed within {Duration.Format(settings.Duration)} at {endpoints}; give a longer --duration");
        }

        return failures.NoAnswer == failures.Count
            ? Cli.Fail(3, $"no request succeeded ({failures.Describe()}): is anything serving '{settings.Service}' at {endpoints}?")
            : Cli.Fail(5, $"no request succeeded: {failures.Describe()}");
    }
}
