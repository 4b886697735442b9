using System.CommandLine;
using Courier.Cli.Bench;

namespace Courier.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var connect = new Option<string[]>("--connect") { Description = "Endpoint to load; repeat it for failover endpoints.", Required = true };
        var service = new Option<string>("--service") { Description = "Service to ask.", DefaultValueFactory = _ => "echo" };
        var clients = Cli.PositiveIntOption("--clients", 4, "Connections (one client each).");
        var inflight = Cli.PositiveIntOption("--inflight", 100, "Requests kept in flight per connection.");
        var duration = Cli.DurationOption("--duration", TimeSpan.FromSeconds(10), "How long to send.");
        var size = new Option<int>("--size") { Description = "Request body size in bytes.", DefaultValueFactory = _ => 64 };
        var timeout = Cli.DurationOption("--timeout", TimeSpan.FromSeconds(5), "Attempt timeout per request.");
        var retries = new Option<int>("--retries") { Description = "Resends after the first attempt.", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print a last line of JSON with the results." };
        var command = new Command("bench", "Measure throughput and latency against a server, broker or proxy.")
        {
            connect, service, clients, inflight, duration, size, timeout, retries, json,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            if (parse.GetValue(size) < 0)
            {
                return Cli.Fail(2, "--size must not be negative.");
            }

            var settings = new BenchSettings(
                parse.GetValue(connect)!, parse.GetValue(service)!, parse.GetValue(clients), parse.GetValue(inflight),
                parse.GetValue(duration), parse.GetValue(size), parse.GetValue(timeout), parse.GetValue(retries));
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

            if (result.Requests == 0)
            {
                return Cli.Fail(3, $"no request succeeded ({result.Errors} errors): is anything serving '{settings.Service}' at {string.Join(", ", settings.Endpoints)}?");
            }

            return 0;
        }));
        return command;
    }
}
