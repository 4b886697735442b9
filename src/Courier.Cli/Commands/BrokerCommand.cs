using System.CommandLine;
using Courier.Broker;

namespace Courier.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var bind = new Option<string>("--bind") { Description = "Endpoint for clients and workers, e.g. tcp://0.0.0.0:5555 (port * picks one).", Required = true };
        var heartbeat = Cli.DurationOption("--heartbeat", CourierBrokerOptions.Default.HeartbeatInterval, "Heartbeat interval with workers.");
        var liveness = Cli.PositiveIntOption("--liveness", CourierBrokerOptions.Default.HeartbeatLiveness, "Missed heartbeats before a worker is dead.");
        var deaths = Cli.PositiveIntOption("--max-deaths", CourierBrokerOptions.Default.MaxWorkerDeaths, "Worker deaths before a request is answered as poison.");
        var queue = Cli.PositiveIntOption("--max-queue", CourierBrokerOptions.Default.MaxQueuedPerService, "Requests waiting per service before 503.");
        var command = new Command("broker", "Run a Majordomo (7/MDP) broker that balances requests over workers.")
        {
            bind, heartbeat, liveness, deaths, queue,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
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
            await Cli.WaitForShutdownAsync();
            await broker.StopAsync(CancellationToken.None);
            Console.WriteLine("broker stopped");
            return 0;
        }));
        return command;
    }
}
