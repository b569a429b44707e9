// The allscale-exporter-health Grafana dashboard: dashboards/allscale-exporter-health.json is generated from this (mixin/generate.py).
{
  "annotations": {
    "list": [
      {
        "builtIn": 1,
        "datasource": {
          "type": "grafana",
          "uid": "-- Grafana --"
        },
        "enable": true,
        "hide": true,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard"
      }
    ]
  },
  "description": "The exporter itself: scrapes, process resources, config reloads, polling.",
  "editable": true,
  "fiscalYearStartMonth": 0,
  "graphTooltip": 1,
  "id": null,
  "links": [
    {
      "title": "AllScale Checkout",
      "type": "link",
      "url": "/d/allscale-checkout",
      "icon": "dashboard",
      "includeVars": true,
      "keepTime": true,
      "tooltip": "",
      "tags": [],
      "asDropdown": false,
      "targetBlank": false
    }
  ],
  "panels": [
    {
      "type": "stat",
      "title": "Exporter up",
      "description": "Whether Prometheus can scrape each exporter instance (up).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 0,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "up{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [
            {
              "type": "value",
              "options": {
                "0": {
                  "text": "DOWN",
                  "color": "red",
                  "index": 0
                },
                "1": {
                  "text": "UP",
                  "color": "green",
                  "index": 1
                }
              }
            }
          ],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 1
    },
    {
      "type": "stat",
      "title": "Version",
      "description": "Version and git revision of each exporter instance (allscale_exporter_build_info).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 4,
        "y": 0,
        "w": 5,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "allscale_exporter_build_info{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{version}} ({{revision}})",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "name",
        "colorMode": "none",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 2
    },
    {
      "type": "stat",
      "title": "Uptime",
      "description": "Time since each exporter process started (process_start_time_seconds).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 9,
        "y": 0,
        "w": 5,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - process_start_time_seconds{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 3
    },
    {
      "type": "stat",
      "title": "Config reload",
      "description": "Whether the last config (re)load succeeded (allscale_exporter_config_last_reload_successful).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 14,
        "y": 0,
        "w": 5,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "allscale_exporter_config_last_reload_successful{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [
            {
              "type": "value",
              "options": {
                "0": {
                  "text": "FAILED",
                  "color": "red",
                  "index": 0
                },
                "1": {
                  "text": "OK",
                  "color": "green",
                  "index": 1
                }
              }
            }
          ],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 4
    },
    {
      "type": "stat",
      "title": "Config loaded",
      "description": "Time since the last successful config load (allscale_exporter_config_last_reload_success_timestamp_seconds).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 19,
        "y": 0,
        "w": 5,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - allscale_exporter_config_last_reload_success_timestamp_seconds{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 5
    },
    {
      "type": "timeseries",
      "title": "Scrape health",
      "description": "up per instance (1 = scraped) over time.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 5,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "up{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "min": 0,
          "max": 1,
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 6
    },
    {
      "type": "timeseries",
      "title": "Scrape duration",
      "description": "How long Prometheus takes to scrape /metrics (scrape_duration_seconds). The exporter answers from memory; this grows with the number of watched intents.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 5,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "scrape_duration_seconds{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 7
    },
    {
      "type": "timeseries",
      "title": "Samples per scrape",
      "description": "Series exposed per scrape (scrape_samples_scraped): about 4 per watched intent plus a fixed set per store.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 5,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "scrape_samples_scraped{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 8
    },
    {
      "type": "timeseries",
      "title": "Memory",
      "description": "Resident memory of the exporter (process_resident_memory_bytes).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 13,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "process_resident_memory_bytes{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "bytes",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 9
    },
    {
      "type": "timeseries",
      "title": "CPU",
      "description": "CPU used by the exporter, in cores (rate of process_cpu_seconds_total).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 13,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "rate(process_cpu_seconds_total{job=~\"$job\",instance=~\"$instance\"}[$__rate_interval])",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 10
    },
    {
      "type": "timeseries",
      "title": "Open file descriptors",
      "description": "Open / maximum file descriptors (process_open_fds / process_max_fds).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 13,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "process_open_fds{job=~\"$job\",instance=~\"$instance\"} / process_max_fds{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "min": 0
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 11
    },
    {
      "type": "timeseries",
      "title": "Watched intents",
      "description": "Intents in each store's watch list (allscale_exporter_watched_intents); changes on config reloads.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 21,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 12
    },
    {
      "type": "timeseries",
      "title": "Requests answered ok (5m)",
      "description": "Per store, the share of requests answered ok over 5 minutes (recording rule store:allscale_api_requests_ok:ratio_rate5m in deploy/prometheus/rules.yml).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 21,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "store:allscale_api_requests_ok:ratio_rate5m{store=~\"$store\"}",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "min": 0,
          "max": 1
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 13
    },
    {
      "type": "timeseries",
      "title": "Since last successful poll",
      "description": "Per store, time since the most recent successful status poll of any intent. Saw-tooth up to poll_interval is normal.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 21,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - max by (store) (allscale_checkout_intent_last_success_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 14
    },
    {
      "type": "timeseries",
      "title": "Request rate by store",
      "description": "Requests per second per store (allscale_api_requests_total); compare with max_requests_per_second.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 29,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (rate(allscale_api_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 15
    },
    {
      "type": "timeseries",
      "title": "AllScale API up",
      "description": "allscale_api_up per store: 1 when the latest request got a well-formed answer that was not an auth failure or server error.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 29,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "min by (store) (allscale_api_up{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "min": 0,
          "max": 1,
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 16
    },
    {
      "type": "row",
      "title": "Polling budget",
      "collapsed": false,
      "panels": [],
      "id": 17,
      "gridPos": {
        "x": 0,
        "y": 37,
        "w": 24,
        "h": 1
      }
    },
    {
      "type": "timeseries",
      "title": "Poll demand vs budget",
      "description": "Requests per second each store needs (allscale_exporter_poll_demand_requests_per_second: pollable intents / poll_interval), its budget (allscale_exporter_poll_budget_requests_per_second: max_requests_per_second, summed over shards) and what was sent (allscale_api_requests_total). Demand above budget: every intent is polled less often (AllScaleExporterPollBudgetExceeded).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 38,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (allscale_exporter_poll_demand_requests_per_second{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}} demand",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "sum by (store) (allscale_exporter_poll_budget_requests_per_second{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}} budget",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "C",
          "expr": "sum by (store) (rate(allscale_api_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{store}} sent",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 18
    },
    {
      "type": "timeseries",
      "title": "Effective poll interval",
      "description": "The interval each pollable intent gets (allscale_exporter_effective_poll_interval_seconds), computed: max(poll_interval, pollable intents / budget). Equal to poll_interval while within budget; longest replica per store.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 38,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store) (allscale_exporter_effective_poll_interval_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 19
    },
    {
      "type": "timeseries",
      "title": "Poll lag",
      "description": "How late the next poll in line is (allscale_exporter_poll_lag_seconds), worst replica per store; near 0 within budget, about effective interval - poll_interval over it, and growing while the store is paused by the API's rate limit.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 38,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store) (allscale_exporter_poll_lag_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 20
    },
    {
      "type": "row",
      "title": "Intent sources",
      "collapsed": false,
      "panels": [],
      "id": 21,
      "gridPos": {
        "x": 0,
        "y": 46,
        "w": 24,
        "h": 1
      }
    },
    {
      "type": "timeseries",
      "title": "Intents per source",
      "description": "Watched intents each source names (allscale_exporter_source_intents): config, file, http (intent_sources) and api (registrations); an intent named by two sources counts under both.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 47,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store, source) (allscale_exporter_source_intents{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}} {{source}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 22
    },
    {
      "type": "timeseries",
      "title": "Since a source last read cleanly",
      "description": "Seconds since each source last read cleanly (allscale_exporter_source_last_success_timestamp_seconds), worst replica; a file or HTTP source over 10 minutes fires AllScaleExporterIntentSourceFailing.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 47,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store, source) (time() - allscale_exporter_source_last_success_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}} {{source}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 23
    },
    {
      "type": "timeseries",
      "title": "Source errors",
      "description": "Failed reads per source per rate interval (allscale_exporter_source_errors_total): a bad file version, a failed fetch, a refused registration, a failed config load; the last good list stays watched.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 47,
        "w": 8,
        "h": 8
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store, source) (increase(allscale_exporter_source_errors_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{store}} {{source}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 24
    }
  ],
  "refresh": "30s",
  "schemaVersion": 39,
  "tags": [
    "allscale",
    "exporter"
  ],
  "templating": {
    "list": [
      {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "includeAll": false,
        "multi": false,
        "options": [],
        "description": "The Prometheus that scrapes allscale-exporter."
      },
      {
        "name": "job",
        "label": "Job",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_build_info, job)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_build_info, job)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "The Prometheus job(s) of allscale-exporter."
      },
      {
        "name": "instance",
        "label": "Instance",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_build_info{job=~\"$job\"}, instance)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_build_info{job=~\"$job\"}, instance)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "The scrape target(s) (exporter replicas) of the selected job(s).",
        "allValue": ".*"
      },
      {
        "name": "store",
        "label": "Store",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\"}, store)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\"}, store)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "AllScale store(s): the `name` of a store in the exporter config."
      }
    ]
  },
  "time": {
    "from": "now-6h",
    "to": "now"
  },
  "timepicker": {},
  "timezone": "browser",
  "title": "allscale-exporter health",
  "uid": "allscale-exporter-health",
  "version": 1,
  "weekStart": ""
}
