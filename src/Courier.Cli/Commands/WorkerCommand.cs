using System.CommandLine;
using Courier.Client;
using Courier.Server;
using Courier.Worker;

namespace Courier.Cli.Commands;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var connect = new Option<string>("--connect") { Description = "The broker's endpoint.", Required = true };
        var service = new Option<string>("--service") { Description = "Service to serve: echo or whoami.", DefaultValueFactory = _ => "echo" };
        service.AcceptOnlyFromAmong(CourierServices.EchoName, CourierServices.WhoAmIName);
        var name = new Option<string>("--name") { Description = "Instance name, answered by whoami.", DefaultValueFactory = _ => $"{Environment.MachineName}-{Environment.ProcessId}" };
        var delay = Cli.DurationOption("--delay", TimeSpan.Zero, "Simulated work per request.");
        var concurrency = Cli.PositiveIntOption("--concurrency", CourierWorkerOptions.Default.Concurrency, "Requests handled at once.");
        var heartbeat = Cli.DurationOption("--heartbeat", CourierWorkerOptions.Default.HeartbeatInterval, "Heartbeat interval with the broker.");
        var liveness = Cli.PositiveIntOption("--liveness", CourierWorkerOptions.Default.HeartbeatLiveness, "Missed heartbeats before reconnecting.");
        var protocol = new Option<ClientProtocol>("--protocol") { Description = "Auto (ask the broker), Courier or Mdp (plain 7/MDP).", DefaultValueFactory = _ => ClientProtocol.Auto };
        var command = new Command("worker", "Serve echo or whoami for a 7/MDP broker.")
        {
            connect, service, name, delay, concurrency, heartbeat, liveness, protocol,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var instance = parse.GetValue(name)!;
            var serviceName = parse.GetValue(service)!;
            var handler = serviceName == CourierServices.WhoAmIName ? CourierServices.WhoAmI(instance) : CourierServices.Echo;
            await using var worker = new CourierWorker(
                CourierWorkerOptions.Default with
                {
                    BrokerEndpoint = parse.GetValue(connect)!,
                    Service = serviceName,
                    Name = instance,
                    Concurrency = parse.GetValue(concurrency),
                    HeartbeatInterval = parse.GetValue(heartbeat),
                    HeartbeatLiveness = parse.GetValue(liveness),
                    Protocol = parse.GetValue(protocol),
                    // The built-in services never block: echo and whoami answer at once, --delay awaits a timer.
                    RunHandlersInline = true,
                    LoggerFactory = loggerFactory,
                    Transport = Cli.Transport,
                },
                CourierServices.WithDelay(handler, parse.GetValue(delay)));
            await worker.StartAsync(cancellationToken);
            Console.WriteLine($"worker {instance} serving {serviceName} for {parse.GetValue(connect)}");
            await Cli.WaitForShutdownAsync();
            await worker.StopAsync(CancellationToken.None);
            Console.WriteLine($"worker {instance} stopped");
            return 0;
        }));
        return command;
    }
}
