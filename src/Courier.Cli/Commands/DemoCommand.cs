using System.CommandLine;
using Courier.Cli.Bench;
using Courier.Client;
using Courier.Server;

namespace Courier.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        // At least a second: the load prints a row per second and kills a worker halfway through.
        var duration = CliOption.Duration(
            "--duration", TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), "Length of the load through the broker.");
        var command = new Command("demo", "Show Courier in under 20 s: a server, pipelining, errors, a bench, then a broker with three workers, one killed mid-run.")
        {
            duration,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            // The demo narrates what happens itself; logs would only interleave with it.
            var loggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
            await using var server = new CourierServer(CourierServerOptions.Default with
            {
                Endpoint = "tcp://127.0.0.1:*",
                Name = "demo-server",
                LoggerFactory = loggerFactory,
                Transport = Cli.Transport,
            }).Map("fail", (_, _) => throw new InvalidOperationException("this handler always fails"));
            await server.StartAsync(cancellationToken);
            var endpoint = server.Endpoint!;
            Console.WriteLine($"1. Started a Courier server on {endpoint} with services echo, whoami and fail.");

            // Generous: 1,000 requests at once on a busy machine must not time out; the timeout is shown below.
            await using (var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(5), Retries = 3, Transport = Cli.Transport }))
            {
                var echo = await client.RequestAsync("echo", "hello, courier", cancellationToken);
                Console.WriteLine($"2. echo replied: {echo}");
                var who = await client.RequestAsync("whoami", "", cancellationToken);
                Console.WriteLine($"   whoami replied: {who}");
                var replies = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => client.RequestAsync("echo", $"#{i}", cancellationToken)));
                var matched = replies.Select((r, i) => r.BodyText == $"#{i}").Count(ok => ok);
                Console.WriteLine($"3. Sent 1,000 requests at once on one connection: {matched:N0} replies matched their requests.");
                await ShowErrorAsync(() => client.RequestAsync("fail", "x", cancellationToken), "a handler that throws");
                await ShowErrorAsync(() => client.RequestAsync("nosuch", "x", cancellationToken), "an unknown service");
            }

            await using (var lonely = new CourierClient(CourierClientOptions.Default with { Endpoints = ["tcp://127.0.0.1:1"], Timeout = TimeSpan.FromMilliseconds(300), Retries = 1, Transport = Cli.Transport }))
            {
                await ShowErrorAsync(() => lonely.RequestAsync("echo", "x", cancellationToken), "nobody listening (300 ms x 2 attempts)");
            }

            var time = TimeSpan.FromSeconds(2);
            Console.WriteLine($"5. Bench, direct to the server: 2 connections x 50 in flight, 64-byte echo, {Duration.Format(time)}:");
            var result = await BenchRunner.RunAsync(new BenchSettings([endpoint], "echo", 2, 50, time, 64, TimeSpan.FromSeconds(5), 3), loggerFactory, BenchRunner.TerminalProgress(), cancellationToken);
            if (!Console.IsOutputRedirected)
            {
                Console.WriteLine();
            }

            result.WriteTable(Console.Out);
            Console.WriteLine("   So far: one connection carries many requests at once, each reply matched to its request; failures arrive");
            Console.WriteLine("   as exceptions with a status code (500, 404) or as a timeout after the retries, never as a hang.");
            Console.WriteLine();
            var brokerOk = await BrokerDemo.RunAsync(parse.GetValue(duration), cancellationToken);
            Console.WriteLine("Next: `courier broker --bind tcp://0.0.0.0:5555`, `courier worker --connect tcp://127.0.0.1:5555`,");
            Console.WriteLine("and `courier request --connect tcp://127.0.0.1:5555 hi` (see README.md).");
            return result.Errors == 0 && brokerOk ? 0 : 1;
        }));
        return command;
    }

    private static async Task ShowErrorAsync(Func<Task> request, string what)
    {
        try
        {
            await request();
            Console.WriteLine($"4. {what}: unexpectedly succeeded");
        }
        catch (CourierException ex)
        {
            Console.WriteLine($"4. {what} -> {ex.GetType().Name}: {ex.Message}");
        }
    }
}
