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
        var queue = CliOption.Int("--max-queue", CourierBrokerOptions.Default.MaxQueuedPerService, 1, 10_000_000, "Requests waiting per service (shared fairly among clients) before 503.");
        var total = CliOption.Int("--max-queue-total", CourierBrokerOptions.Default.MaxQueued, 1, 100_000_000, "Requests waiting in all services before 503.");
        var mebibytes = CliOption.Int(
            "--max-queue-mib", (int)(CourierBrokerOptions.Default.MaxQueuedBytes >> 20), 1, 1_048_576, "MiB of requests waiting in all services before 503.", "MIB");
        var services = CliOption.Int("--max-services", CourierBrokerOptions.Default.MaxServices, 1, 10_000_000, "Services kept at once; a new one beyond is refused.");
        var idle = CliOption.Duration(
            "--idle-service-timeout", CourierBrokerOptions.Default.IdleServiceTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1), "How long a service with no worker and nothing queued is kept.", allowZero: true);
        var affinity = CliOption.Int(
            "--dispatch-affinity", CourierBrokerOptions.Default.DispatchAffinity, 0, 1_000_000,
            "Requests that came in a client's batch stay with the worker of the request before them (the same service, the same turn) while it holds fewer than this many more than the least loaded (0: each to the least loaded).");
        var command = new Command("broker", "Run a Majordomo (7/MDP) broker that balances requests over workers.")
        {
            bind, heartbeat, liveness, deaths, queue, total, mebibytes, services, idle, affinity,
        };
        var telemetry = CliTelemetry.Options.Create();
        telemetry.AddTo(command);
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            await using var exporters = await CliTelemetry.StartAsync(parse, telemetry, "courier-broker", $"{Environment.MachineName}-{Environment.ProcessId}", cancellationToken);
            await using var broker = new CourierBroker(CourierBrokerOptions.Default with
            {
                Endpoint = parse.GetValue(bind)!,
                HeartbeatInterval = parse.GetValue(heartbeat),
                HeartbeatLiveness = parse.GetValue(liveness),
                MaxWorkerDeaths = parse.GetValue(deaths),
                MaxQueuedPerService = parse.GetValue(queue),
                MaxQueued = parse.GetValue(total),
                MaxQueuedBytes = (long)parse.GetValue(mebibytes) << 20,
                MaxServices = parse.GetValue(services),
                IdleServiceTimeout = parse.GetValue(idle),
                DispatchAffinity = parse.GetValue(affinity),
                LoggerFactory = loggerFactory,
                Transport = Cli.Transport,
                Security = Cli.Security,
            });
            await broker.StartAsync(cancellationToken);
            Console.WriteLine($"broker listening on {broker.Endpoint}");
            Cli.AnnounceMetrics(exporters.MetricsUrl, listener: true);
            await Cli.WaitForShutdownAsync();
            await broker.StopAsync(CancellationToken.None);
            Console.WriteLine("broker stopped");
            return 0;
        }));
        return command;
    }
}
