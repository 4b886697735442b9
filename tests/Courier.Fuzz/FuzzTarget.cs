namespace Courier.Fuzz;

/// <summary>
/// One fuzz target: afl's input bytes in, an exception out when the code under test does something it must never do.
/// Engines (<see cref="EngineTarget"/>) read the bytes as a script of messages; files (<see cref="FileTarget"/>) as
/// the text an operator's file holds.
/// </summary>
internal abstract class FuzzTarget
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
        [new ServerTarget(), new BrokerTarget(), new WorkerTarget(), new CertificateTarget(), new PolicyTarget()];

    /// <summary>The targets that play scripts into an engine.</summary>
    public static IEnumerable<EngineTarget> Engines => All.OfType<EngineTarget>();

    public abstract string Name { get; }

    /// <summary>Runs one input; throws when the code under test broke its contract.</summary>
    public abstract void Run(ReadOnlySpan<byte> data);

    public static FuzzTarget Named(string name)
        => All.FirstOrDefault(t => t.Name == name)
           ?? throw new ArgumentException($"no fuzz target '{name}'; targets: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));
}
