using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace Courier.Tests.Packaging;

/// <summary>
/// `dotnet pack` makes the three packages, and they work as a user gets them: a fresh project outside the solution,
/// restoring from a local folder, hosts a server and a client through dependency injection and gets a typed reply;
/// the tool installs and runs.
/// </summary>
public sealed class PackagingTests(ITestOutputHelper output)
{
    private static readonly string[] Packages = ["Courier", "Courier.Extensions.Hosting", "Courier.Cli"];

    [Fact]
    public async Task Packages_from_a_local_folder_host_a_typed_service_through_DI_and_the_tool_runs()
    {
        var clock = Stopwatch.StartNew();
        // A version of its own each run: the global package cache keeps whatever it saw under a version.
        var version = $"0.0.0-pack.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var root = Directory.CreateTempSubdirectory("courier-pack-").FullName;
        try
        {
            var feed = Path.Combine(root, "feed");
            foreach (var project in new[] { "src/Courier", "src/Courier.Extensions.Hosting", "src/Courier.Cli" })
            {
                await Dotnet.RunAsync(Dotnet.RepoRoot, TimeSpan.FromMinutes(10), "dotnet", "pack", project, "-c", "Release", "-o", feed, $"-p:Version={version}");
            }

            output.WriteLine($"packed in {clock.Elapsed.TotalSeconds:0.0} s");
            foreach (var id in Packages)
            {
                var file = Path.Combine(feed, $"{id}.{version}.nupkg");
                output.WriteLine($"{id}: {new FileInfo(file).Length / 1024.0:0.0} KiB");
                CheckPackage(id, file);
            }

            var app = Path.Combine(root, "app");
            Directory.CreateDirectory(app);
            await WriteNuGetConfigAsync(root, feed);
            WriteApp(root, app, version);
            var lap = clock.Elapsed;
            var run = await Dotnet.RunAsync(app, TimeSpan.FromMinutes(10), "dotnet", "run");
            output.WriteLine($"fresh project restored, built and ran in {(clock.Elapsed - lap).TotalSeconds:0.0} s");
            Assert.Contains("typed reply: hello, packages (from packaged-server)", run, StringComparison.Ordinal);

            lap = clock.Elapsed;
            var tools = Path.Combine(root, "tools");
            await Dotnet.RunAsync(root, TimeSpan.FromMinutes(5), "dotnet", "tool", "install", "Courier.Cli", "--tool-path", tools, "--version", version);
            var help = await Dotnet.RunAsync(root, TimeSpan.FromMinutes(1), Path.Combine(tools, "courier"), "--help");
            output.WriteLine($"tool installed and ran in {(clock.Elapsed - lap).TotalSeconds:0.0} s; total {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Contains("broker", help, StringComparison.Ordinal);
            Assert.Contains("worker", help, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var id in Packages)
            {
                var entry = Path.Combine(cache, id.ToLowerInvariant(), version);
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
            }
        }
    }

    /// <summary>What a package page shows and a debugger needs: metadata, the README, XML docs for libraries, the tool's entry.</summary>
    private static void CheckPackage(string id, string file)
    {
        using var zip = ZipFile.OpenRead(file);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var nuspec = XDocument.Load(nuspecStream);
        var metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

        Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id}: description");
        Assert.False(string.IsNullOrWhiteSpace(Field("authors")), $"{id}: authors");
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("README.md", Field("readme"));
        Assert.Contains("zeromq", Field("tags") ?? "", StringComparison.Ordinal);
        Assert.Contains("README.md", names);
        if (id == "Courier.Cli")
        {
            Assert.Contains("DotnetTool", metadata.Element(metadata.Name.Namespace + "packageTypes")?.ToString() ?? "", StringComparison.Ordinal);
            Assert.Contains(names, n => n.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains($"lib/net10.0/{id}.dll", names);
            Assert.Contains($"lib/net10.0/{id}.xml", names);
        }
    }

    /// <summary>
    /// The local folder for Courier's packages, and for everything else the sources this machine's NuGet is set up with
    /// (read from `dotnet nuget list source`, never named here).
    /// </summary>
    private static async Task WriteNuGetConfigAsync(string root, string feed)
    {
        var listed = await Dotnet.RunAsync(root, TimeSpan.FromMinutes(1), "dotnet", "nuget", "list", "source", "--format", "short");
        var machine = listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith('E'))
            .Select(line => line[1..].Trim())
            .ToList();
        Assert.NotEmpty(machine);
        var sources = new XElement("packageSources", new XElement("clear"), new XElement("add", new XAttribute("key", "courier-local"), new XAttribute("value", feed)));
        var mapping = new XElement("packageSourceMapping",
            new XElement("packageSource", new XAttribute("key", "courier-local"),
                new XElement("package", new XAttribute("pattern", "Courier")),
                new XElement("package", new XAttribute("pattern", "Courier.*"))));
        for (var i = 0; i < machine.Count; i++)
        {
            sources.Add(new XElement("add", new XAttribute("key", $"machine-{i}"), new XAttribute("value", machine[i])));
            mapping.Add(new XElement("packageSource", new XAttribute("key", $"machine-{i}"), new XElement("package", new XAttribute("pattern", "*"))));
        }

        new XDocument(new XElement("configuration", sources, mapping)).Save(Path.Combine(root, "nuget.config"));
    }

    private static void WriteApp(string root, string app, string version)
    {
        // Shield the project from any Directory.*.props a parent folder might hold.
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "PackagedApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Courier" Version="{version}" />
                <PackageReference Include="Courier.Extensions.Hosting" Version="{version}" />
                <PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Text.Json.Serialization;
            using Courier.Client;
            using Courier.Extensions.Hosting;
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Hosting;

            var builder = Host.CreateApplicationBuilder(args);
            builder.Services.AddCourierServer(o => o with { Endpoint = "inproc://packaged", Name = "packaged-server" })
                .MapHandler<Greeter, Greeting, Reply>("greet", AppJson.Default);
            builder.Services.AddCourierClient(o => o with { Endpoints = ["inproc://packaged"] });
            using var host = builder.Build();
            await host.StartAsync();

            var client = host.Services.GetRequiredService<ICourierClient>();
            var reply = await client.RequestAsync<Greeting, Reply>("greet", new Greeting("packages"), AppJson.Default);
            var who = await client.RequestAsync("whoami", "");
            Console.WriteLine($"typed reply: {reply.Text} (from {who.BodyText})");
            await host.StopAsync();

            public sealed record Greeting(string Name);

            public sealed record Reply(string Text);

            public sealed class Greeter : ICourierHandler<Greeting, Reply>
            {
                public ValueTask<Reply> HandleAsync(Greeting request, CancellationToken cancellationToken) => ValueTask.FromResult(new Reply($"hello, {request.Name}"));
            }

            [JsonSerializable(typeof(Greeting))]
            [JsonSerializable(typeof(Reply))]
            internal sealed partial class AppJson : JsonSerializerContext;
            """);
    }
}
