using System.Collections.Frozen;

namespace Inventory.Worker;

/// <summary>The stock this worker knows: a stand-in for a database, filled from configuration (Inventory:Stock).</summary>
public sealed class StockTable(IConfiguration configuration)
{
    private readonly FrozenDictionary<string, int> _stock = configuration.GetSection("Inventory:Stock").GetChildren()
        .ToFrozenDictionary(item => item.Key, item => int.Parse(item.Value ?? "0", System.Globalization.CultureInfo.InvariantCulture), StringComparer.OrdinalIgnoreCase);

    public string Warehouse { get; } = configuration["Inventory:Warehouse"] ?? Environment.MachineName;

    public bool TryGet(string sku, out int available) => _stock.TryGetValue(sku, out available);
}
