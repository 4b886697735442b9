using System.CommandLine;
using Courier.Broker;
using Courier.Cli.Telemetry;

namespace Courier.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var bind = CliOption.Endpoint("--bind", bind: true, "Endpoint for clients and workers, e.g. tcp://0.0.0.0:5555 (port * picks one).");
        var heartbeat = CliOption.Duration(
            "--heartbeat", CourierBrokerOptions.Default.HeartbeatInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1), "Heartbeat interval with workers.");
        var liveness = CliOption.Int("--liveness", CourierBrokerOptions.Default.HeartbeatLiveness, 1, 100, "Missed heartbeats before a worker is dead.");
        var deaths = CliOption.Int("--max-deaths", CourierBrokerOptions.Default.MaxWorkerDeaths, 1, 100, "Worker deaths before a request is answered as poison.");
        var queue = CliOption.Int("--max-queue", CourierBrokerOptions.Default.MaxQueuedPerService, 1, 10_000_000, "Requests waiting per service before 503.");
        var command = new Command("broker", "Run a Majordomo (7/MDP) broker that balances requests over workers.")
        {
            bind, heartbeat, liveness, deaths, queue,
        };
        var telemetry = CliTelemetry.Options.Create();
        telemetry.AddTo(command);
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            using var exporters = CliTelemetry.Start(parse, telemetry, "courier-broker", $"{Environment.MachineName}-{Environment.ProcessId}");
            await using var broker = new CourierBroker(CourierBrokerOptions.Default with
            {
                Endpoint = parse.GetValue(bind)!,
                HeartbeatInterval = parse.GetValue(heartbeat),
                HeartbeatLiveness = parse.GetValue(liveness),
                MaxWorkerDeaths = parse.GetValue(deaths),
                MaxQueuedPerService = parse.GetValue(queue),
                LoggerFactory = loggerFactory,
                Transport = Cli.Transport,
            });
            await broker.StartAsync(cancellationToken);
            Console.WriteLine($"broker listening on {broker.Endpoint}");
            if (exporters.MetricsUrl is { } url)
            {
                Console.WriteLine($"metrics on {url}");
            }
            await Cli.WaitForShutdownAsync();
            await broker.StopAsync(CancellationToken.None);
            Console.WriteLine("broker stopped");
            return 0;
        }));
        return command;
    }
}
