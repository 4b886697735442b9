using System.CommandLine;
using System.Runtime.InteropServices;
using Courier.Cli;
using Courier.Cli.Commands;

var root = new RootCommand("Courier: reliable, load-balanced, asynchronous request/reply over ZeroMQ.")
{
    ServerCommand.Create(),
    BrokerCommand.Create(),
    WorkerCommand.Create(),
    RequestCommand.Create(),
    BenchCommand.Create(),
    DemoCommand.Create(),
    HealthCommand.Create(),
};
root.Options.Add(Cli.LogLevelOption);
root.Options.Add(Cli.TransportOption);
root.Options.Add(Cli.ZmtpHeartbeatOption);

// SIGINT and SIGTERM cancel Cli.Shutdown; each command decides how to stop (a server drains first), then exits normally.
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cli.RequestShutdown);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cli.RequestShutdown);
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
