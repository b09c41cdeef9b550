# The tutorial "AutoGen + HatiData: State Branch & Merge", verbatim.
# Its code blocks are copied unchanged; only the connection target is taken from the
# environment (HATI_DEMO_PORT) so ``hati demo`` can run it against a fresh server.
import os

if os.environ.get("HATI_DEMO_PORT"):
    import hatidata_agent

    _Agent = hatidata_agent.HatiDataAgent

    def HatiDataAgent(host, port, agent_id):  # keeps the tutorial's name
        return _Agent(host=host, port=int(os.environ["HATI_DEMO_PORT"]), agent_id=agent_id)

    hatidata_agent.HatiDataAgent = HatiDataAgent

from hatidata_agent import HatiDataAgent

hati = HatiDataAgent(host="localhost", port=5439, agent_id="autogen-planner")
# Create deployment configurations table
hati.execute("""
CREATE TABLE deploy_config (
service VARCHAR, replicas INTEGER,
cpu_limit VARCHAR, memory_limit VARCHAR,
region VARCHAR
)
""")
hati.execute("""
INSERT INTO deploy_config VALUES
('api-gateway', 3, '500m', '512Mi', 'us-east-1'),
('ml-inference', 2, '2000m', '4Gi', 'us-east-1'),
('data-pipeline', 1, '1000m', '2Gi', 'us-east-1')
""")
result = hati.query("SELECT service, replicas, region FROM deploy_config")
print("Baseline deployment config:")
for r in result:
    print(f" {r['service']}: {r['replicas']} replicas in {r['region']}")

# Branch A: horizontal scaling (more replicas, same resources)
hati.execute("SELECT branch_create('horizontal-scale')")
hati.execute("""
SELECT branch_query(
'horizontal-scale',
'UPDATE deploy_config SET replicas = replicas * 3'
)
""")
hati.execute("""
SELECT branch_query(
'horizontal-scale',
'INSERT INTO deploy_config VALUES (''cache-layer'', 6, ''250m'', ''256Mi'', ''us-east-1'')'
)
""")
# Branch B: vertical scaling (more resources, multi-region)
hati.execute("SELECT branch_create('vertical-scale')")
hati.execute("""
SELECT branch_query(
'vertical-scale',
'UPDATE deploy_config SET cpu_limit = ''4000m'', memory_limit = ''8Gi'' WHERE service = ''ml-inference'''
)
""")
hati.execute("""
SELECT branch_query(
'vertical-scale',
'INSERT INTO deploy_config VALUES (''ml-inference'', 2, ''4000m'', ''8Gi'', ''eu-west-1'')'
)
""")
print("Created branches: horizontal-scale, vertical-scale")

for branch in ["horizontal-scale", "vertical-scale"]:
    result = hati.query(f"""
SELECT branch_query(
'{branch}',
'SELECT service, replicas, cpu_limit, memory_limit, region FROM deploy_config ORDER BY service'
)
""")
    total_replicas = sum(int(r["replicas"]) for r in result)
    print(f"\n=== {branch} ===")
    for r in result:
        print(
            f" {r['service']}: {r['replicas']}x ({r['cpu_limit']} CPU, {r['memory_limit']} RAM) in {r['region']}"
        )
    print(f" Total replicas: {total_replicas}")
# Main is unchanged
main = hati.query("SELECT SUM(replicas) AS total FROM deploy_config")
print(f"\nMain state total replicas: {main[0]['total']} (unchanged)")

# Choose vertical scaling (fewer replicas, more efficient)
hati.execute("SELECT branch_merge('vertical-scale', 'branch_wins')")
hati.execute("SELECT branch_discard('horizontal-scale')")
print("Merged vertical-scale, discarded horizontal-scale")
# Verify final state
result = hati.query(
    "SELECT service, replicas, cpu_limit, region FROM deploy_config ORDER BY service"
)
print("\nFinal deployment config:")
for r in result:
    print(f" {r['service']}: {r['replicas']}x ({r['cpu_limit']} CPU) in {r['region']}")
# Verify no branches remain
branches = hati.query("SELECT branch_list()")
print(f"\nActive branches: {len(branches)}")
