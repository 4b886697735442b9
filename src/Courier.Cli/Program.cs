using System.CommandLine;
using Courier.Cli;
using Courier.Cli.Commands;

var root = new RootCommand("Courier: reliable, load-balanced, asynchronous request/reply over ZeroMQ.")
{
    ServerCommand.Create(),
    RequestCommand.Create(),
    BenchCommand.Create(),
    DemoCommand.Create(),
};
root.Options.Add(Cli.LogLevelOption);
return await root.Parse(args).InvokeAsync();
