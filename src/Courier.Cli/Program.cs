using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.InteropServices;
using Courier.Cli;
using Courier.Cli.Commands;

// A plain Command rather than RootCommand: RootCommand takes its name from the assembly ("Courier.Cli"), and usage,
// help and errors should say what is typed: `courier`.
var root = new Command("courier", "Courier: reliable, load-balanced, asynchronous request/reply over ZeroMQ.")
{
    ServerCommand.Create(),
    BrokerCommand.Create(),
    WorkerCommand.Create(),
    RequestCommand.Create(),
    BenchCommand.Create(),
    DemoCommand.Create(),
    HealthCommand.Create(),
    KeygenCommand.Create(),
    TopCommand.Create(),
};
root.Options.Add(Cli.LogLevelOption);
root.Options.Add(Cli.TransportOption);
root.Options.Add(Cli.ZmtpHeartbeatOption);
foreach (var option in SecurityFlags.All)
{
    root.Options.Add(option);
}

root.Options.Add(new HelpOption { Action = new HelpWriter() });
root.Options.Add(new VersionOption());

// No response files: `courier request … @alice` sends the frame "@alice" rather than reading a file named alice.
var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (ParseErrors.Describe(parse) is { } error)
{
    return Cli.Fail(2, error);
}

// SIGINT and SIGTERM cancel Cli.Shutdown; each command decides how to stop (a server drains first), then exits normally.
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cli.RequestShutdown);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cli.RequestShutdown);
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
